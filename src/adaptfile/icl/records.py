"""Examples as normalised records (messages + label + source), with duplicates, near-duplicates and leakage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.profile.examples import scan_examples
from adaptfile.profile.formats import Example, RowError, normalize
from adaptfile.profile.readers import RowReader, file_type
from adaptfile.profile.text import normal_text


@dataclass(frozen=True)
class Record:
    """One example in the internal form every step reads: the turns, the target, the label, the source."""

    line: int  # 1-based line of the row in its file
    messages: tuple[tuple[str, str], ...]  # (role, content); the last turn is the assistant's answer
    label: str | None = None
    source: str | None = None

    @property
    def input(self) -> str:
        """What the user said: every turn before the answer except system turns, one per line."""
        return "\n".join(content for role, content in self.messages[:-1] if role != "system")

    @property
    def output(self) -> str:
        return self.messages[-1][1]

    def to_json(self) -> dict[str, Any]:
        data = {"line": self.line, "messages": [{"role": r, "content": c} for r, c in self.messages]}
        data |= {"input": self.input, "output": self.output, "label": self.label, "source": self.source}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        turns = tuple((m["role"], m["content"]) for m in data["messages"])
        return cls(int(data["line"]), turns, data.get("label"), data.get("source"))


@dataclass
class LoadReport:
    """What loading one file found: the rows kept and every row dropped or suspicious, with its line."""

    path: str
    format: str
    rows: int = 0  # valid rows read
    kept: int = 0
    duplicates: list[dict[str, int]] = field(default_factory=list)  # {"line", "same_as"}: dropped
    near_duplicates: list[dict[str, int]] = field(default_factory=list)  # {"line", "like"}: kept
    bad_rows: list[dict[str, Any]] = field(default_factory=list)  # {"line", "message"}: the first 200 skipped
    labels: dict[str, int] = field(default_factory=dict)
    bad_row_count: int = 0  # every bad row, listed or not

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duplicate_count"] = len(self.duplicates)
        data["near_duplicate_count"] = len(self.near_duplicates)
        return data

    def summary(self) -> str:
        return (
            f"{self.path}: {self.rows} rows ({self.format}), {self.kept} kept; "
            f"{len(self.duplicates)} exact duplicates dropped, {len(self.near_duplicates)} near-duplicates, "
            f"{self.bad_row_count} bad rows skipped"
        )


def as_record(line: int, example: Example) -> Record:
    """An Example (any file format) as a Record: messages kept, other formats as one user turn + answer."""
    if example.messages:
        return Record(line, tuple(example.messages), example.label, example.source)
    return Record(
        line, (("user", example.input), ("assistant", example.output)), example.label, example.source
    )


def load_records(root: Path, config: Any, key: str = "data.examples") -> tuple[Iterator[Record], LoadReport]:
    """Every valid row of the file as a Record, exact duplicates dropped, streamed: the report lists
    the bad rows at once, and counts rows, duplicates and labels as the records are consumed."""
    scan = scan_examples(root, config, key)  # raises ConfigError naming file and lines when nothing is valid
    profile = scan.profile
    report = LoadReport(profile.path, profile.format, bad_row_count=profile.bad_row_count)
    report.bad_rows = [{"line": i.line, "message": i.message} for i in profile.bad_rows]
    return _records(root / config.path, profile.format, report), report


def _records(path: Path, fmt: str, report: LoadReport) -> Iterator[Record]:
    def valid() -> Iterator[Record]:
        for raw in RowReader(path, file_type(path) or "jsonl").rows():
            if raw.record is None:
                continue
            try:
                record = as_record(raw.line, normalize(raw.record, fmt))
            except RowError:
                continue
            report.rows += 1
            yield record

    labels: dict[str, int] = {}
    for record in dedupe(valid(), report):
        report.kept += 1
        if record.label is not None:
            labels[record.label] = labels.get(record.label, 0) + 1
        yield record
    report.labels = dict(sorted(labels.items()))


def dedupe(records: Iterable[Record], report: LoadReport) -> Iterator[Record]:
    """Drop exact duplicates (same turns and label); count near-duplicates (same normalised input + output).
    Rows are remembered by digest, not kept."""
    exact: dict[bytes, int] = {}
    near: dict[bytes, int] = {}
    for record in records:
        key = _digest((record.messages, record.label))
        if key in exact:
            report.duplicates.append({"line": record.line, "same_as": exact[key]})
            continue
        exact[key] = record.line
        fuzzy = _digest((normal_text(record.input), normal_text(record.output)))
        if fuzzy in near:
            report.near_duplicates.append({"line": record.line, "like": near[fuzzy]})
        else:
            near[fuzzy] = record.line
        yield record


def _digest(value: object) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def leaked(train: Iterable[Record], evaluation: Iterable[Record]) -> list[tuple[Record, int]]:
    """Eval records whose normalised input also appears among the training examples, each with the line
    of the first training example that has it."""
    seen: dict[bytes, int] = {}
    for record in train:
        seen.setdefault(_digest(normal_text(record.input)), record.line)
    found = []
    for record in evaluation:
        line = seen.get(_digest(normal_text(record.input)))
        if line is not None:
            found.append((record, line))
    return found


def write_records(path: Path, records: Iterable[Record]) -> None:
    """JSON Lines, one record per line, keys sorted: byte-identical for identical records."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False) + "\n")


def read_records(path: Path) -> list[Record]:
    return list(iter_records(path))


def iter_records(path: Path) -> Iterator[Record]:
    """The records of an examples.jsonl, one at a time."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield Record.from_json(json.loads(line))
