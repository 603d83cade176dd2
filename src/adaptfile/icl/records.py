"""Examples as normalised records (messages + label + source), with duplicates, near-duplicates and leakage."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
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
    bad_rows: list[dict[str, Any]] = field(default_factory=list)  # {"line", "message"}: skipped
    labels: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duplicate_count"] = len(self.duplicates)
        data["near_duplicate_count"] = len(self.near_duplicates)
        data["bad_row_count"] = len(self.bad_rows)
        return data

    def summary(self) -> str:
        return (
            f"{self.path}: {self.rows} rows ({self.format}), {self.kept} kept; "
            f"{len(self.duplicates)} exact duplicates dropped, {len(self.near_duplicates)} near-duplicates, "
            f"{len(self.bad_rows)} bad rows skipped"
        )


def as_record(line: int, example: Example) -> Record:
    """An Example (any file format) as a Record: messages kept, other formats as one user turn + answer."""
    if example.messages:
        return Record(line, tuple(example.messages), example.label, example.source)
    return Record(
        line, (("user", example.input), ("assistant", example.output)), example.label, example.source
    )


def load_records(root: Path, config: Any, key: str = "data.examples") -> tuple[list[Record], LoadReport]:
    """Every valid row of the file as a Record, exact duplicates dropped; the report lists what was dropped."""
    scan = scan_examples(root, config, key)  # raises ConfigError naming file and lines when nothing is valid
    profile = scan.profile
    report = LoadReport(profile.path, profile.format)
    report.bad_rows = [{"line": i.line, "message": i.message} for i in profile.bad_rows]
    path = root / config.path
    rows: list[Record] = []
    for raw in RowReader(path, file_type(path) or "jsonl").rows():
        if raw.record is None:
            continue
        try:
            rows.append(as_record(raw.line, normalize(raw.record, profile.format)))
        except RowError:
            continue
    report.rows = len(rows)
    kept = dedupe(rows, report)
    report.kept = len(kept)
    for record in kept:
        if record.label is not None:
            report.labels[record.label] = report.labels.get(record.label, 0) + 1
    report.labels = dict(sorted(report.labels.items()))
    return kept, report


def dedupe(records: Sequence[Record], report: LoadReport) -> list[Record]:
    """Drop exact duplicates (same turns and label); count near-duplicates (same normalised input + output)."""
    exact: dict[tuple[Any, ...], int] = {}
    near: dict[tuple[str, str], int] = {}
    kept: list[Record] = []
    for record in records:
        key = (record.messages, record.label)
        if key in exact:
            report.duplicates.append({"line": record.line, "same_as": exact[key]})
            continue
        exact[key] = record.line
        fuzzy = (normal_text(record.input), normal_text(record.output))
        if fuzzy in near:
            report.near_duplicates.append({"line": record.line, "like": near[fuzzy]})
        else:
            near[fuzzy] = record.line
        kept.append(record)
    return kept


def leaked(train: Iterable[Record], evaluation: Iterable[Record]) -> list[int]:
    """Lines of eval rows whose normalised input also appears among the training examples."""
    seen = {normal_text(record.input) for record in train}
    return [record.line for record in evaluation if normal_text(record.input) in seen]


def write_records(path: Path, records: Iterable[Record]) -> None:
    """JSON Lines, one record per line, keys sorted: byte-identical for identical records."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False) + "\n")


def read_records(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as handle:
        return [Record.from_json(json.loads(line)) for line in handle if line.strip()]
