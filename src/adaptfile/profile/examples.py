"""Profile a [data.examples] / [data.eval] file: validate every row, detect the format, count tokens."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.errors import ConfigError
from adaptfile.profile.formats import FIELDS, FORMATS, Example, RowError, describe_keys, detect, normalize
from adaptfile.profile.model import ExamplesProfile, RowIssue
from adaptfile.profile.readers import FILE_TYPES, RowReader, file_type
from adaptfile.profile.text import estimate_tokens, normal_text

if TYPE_CHECKING:
    from adaptfile.config.model import ExamplesConfig

MAX_ISSUES = 200  # bad rows listed one by one; the rest are counted in `omitted_issues`


@dataclass
class _Tally:
    """Running figures of the rows of one format: the file is streamed, rows are not kept."""

    detected: int = 0  # rows whose fields announce this format, valid or not
    rows: int = 0  # valid rows
    tokens_sum: int = 0
    tokens_max: int = 0
    input_max: int = 0
    output_max: int = 0
    seen: set[bytes] = field(default_factory=set)  # digests of whole rows, for duplicates
    inputs: set[bytes] = field(default_factory=set)  # digests of normalised inputs, for leakage
    labels: set[str] = field(default_factory=set)
    with_source: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)  # the first MAX_ISSUES valid rows' lines

    def add(self, line: int, example: Example) -> None:
        size_in, size_out = estimate_tokens(example.input), estimate_tokens(example.output)
        self.rows += 1
        self.tokens_sum += size_in + size_out
        self.tokens_max = max(self.tokens_max, size_in + size_out)
        self.input_max, self.output_max = max(self.input_max, size_in), max(self.output_max, size_out)
        self.seen.add(_digest(example.messages or (example.input, example.output)))
        self.inputs.add(_digest(normal_text(example.input)))  # case/punctuation variants leak too
        if example.label is not None:
            self.labels.add(example.label)
        if example.source is not None:
            self.with_source += 1
            self.sources[example.source] = self.sources.get(example.source, 0) + 1
        if len(self.lines) < MAX_ISSUES:
            self.lines.append(line)


@dataclass
class _Scan:
    """Everything one pass over a file keeps: tallies per format and the first rows of each problem."""

    tallies: dict[str, _Tally] = field(default_factory=dict)
    total: int = 0  # non-blank rows
    errors: list[tuple[int, str]] = field(default_factory=list)  # first MAX_ISSUES unreadable rows
    error_count: int = 0
    unknown: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # first rows of no format
    unknown_count: int = 0

    def tally(self, fmt: str) -> _Tally:
        return self.tallies.setdefault(fmt, _Tally())

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ISSUES:
            self.errors.append((line, message))


@dataclass
class ExamplesScan:
    """A profile plus the digests of the inputs, to find eval rows that leak from the training set."""

    profile: ExamplesProfile
    inputs: set[bytes] = field(default_factory=set)
    sources: dict[str, int] = field(default_factory=dict)  # gold document named → rows naming it


def profile_examples(root: Path, config: ExamplesConfig, key: str = "data.examples") -> ExamplesProfile:
    """Profile the file at `config.path`; `key` ("data.examples" or "data.eval") names it in errors."""
    return scan_examples(root, config, key).profile


def read_examples(root: Path, config: ExamplesConfig, key: str = "data.examples") -> list[Example]:
    """The valid rows of the file as Examples, in file order (bad rows are left out)."""
    fmt = profile_examples(root, config, key).format
    path = root / config.path
    out = []
    for raw in RowReader(path, file_type(path) or "jsonl").rows():
        if raw.record is not None:
            try:
                out.append(normalize(raw.record, fmt))
            except RowError:
                continue
    return out


def scan_examples(root: Path, config: ExamplesConfig, key: str = "data.examples") -> ExamplesScan:
    """Stream every row once; rows of a minority format or with bad fields become RowIssues."""
    path, kind = _locate(root, config.path, key)
    forced = None if config.format == "auto" else config.format
    scan = _Scan()
    for raw in RowReader(path, kind).rows():
        scan.total += 1
        if raw.record is None:
            scan.error(raw.line, raw.error or "unreadable row")
            continue
        fmt = forced or detect(raw.record)
        if fmt is None:
            scan.unknown_count += 1
            if len(scan.unknown) < MAX_ISSUES:
                scan.unknown.append((raw.line, raw.record))
            continue
        tally = scan.tally(fmt)
        tally.detected += 1
        try:
            example = normalize(raw.record, fmt)
        except RowError as err:
            scan.error(raw.line, _mismatch(str(err), raw.record, forced, key))
            continue
        tally.add(raw.line, example)
    if not scan.total:
        what = "has a header but no rows" if kind in ("csv", "tsv") and path.stat().st_size else "is empty"
        raise ConfigError(
            f"{key}.path: {config.path} {what}",
            hint=f"add examples ({_shape(kind)}), or remove the [{key}] table",
        )
    fmt = forced or _majority(scan)
    issues, issue_count = _judge(scan, fmt)
    rel = Path(os.path.normpath(config.path)).as_posix()
    tally = scan.tallies.get(fmt or "")
    if tally is None or not tally.rows:
        raise _no_valid_rows(key, rel, issues, issue_count, forced)
    return _profile(rel, kind, fmt or "", tally, issues, issue_count)


def _locate(root: Path, name: str, key: str) -> tuple[Path, str]:
    path = root / name
    if not path.is_file():
        raise ConfigError(
            f"{key}.path: {name}: no such file under {root}",
            hint=f"fix {key}.path (relative to the directory holding adapt.toml), or remove the [{key}] table",
        )
    kind = file_type(path)
    if kind is None:
        raise ConfigError(
            f"{key}.path: {name}: unsupported file type {path.suffix or '(no extension)'!r}",
            hint=f"save the examples as {', '.join(sorted(FILE_TYPES))}",
        )
    return path, kind


def _majority(scan: _Scan) -> str | None:
    counts = {fmt: tally.detected for fmt, tally in scan.tallies.items() if tally.detected}
    if not counts:
        return None
    best = max(counts.values())
    return next(fmt for fmt in FORMATS if counts.get(fmt) == best)


def _judge(scan: _Scan, fmt: str | None) -> tuple[list[RowIssue], int]:
    """The first MAX_ISSUES bad rows in file order, and how many there are: unreadable rows, rows of
    no known format, and valid rows of another format than `fmt`."""
    issues = [RowIssue("", line, message) for line, message in scan.errors]
    count = scan.error_count + scan.unknown_count
    for line, record in scan.unknown:
        if fmt is None:
            message = f"no known example fields ({describe_keys(record)}); expected one of: " + "; ".join(
                f"{name}: {FIELDS[name]}" for name in FORMATS
            )
        else:
            try:
                normalize(record, fmt)
                message = f"does not look like {fmt}"
            except RowError as err:
                message = f"{err} ({describe_keys(record)})"
        issues.append(RowIssue("", line, message))
    majority = scan.tallies[fmt].detected if fmt in scan.tallies else 0
    for other, tally in scan.tallies.items():
        if other == fmt:
            continue
        count += tally.rows
        message = (
            f"looks like {other} ({FIELDS[other]}) but {majority} of {scan.total} rows are {fmt}: "
            "use one format per file"
        )
        issues += [RowIssue("", line, message) for line in tally.lines]
    issues.sort(key=lambda issue: issue.line)
    return issues[:MAX_ISSUES], count


def _mismatch(message: str, record: dict[str, Any], forced: str | None, key: str) -> str:
    """Add a fix when a forced format rejects a row that plainly has another format."""
    seen = detect(record)
    if forced and seen and seen != forced:
        return f'{message}; this row looks like {seen}: set {key}.format = "{seen}" or "auto"'
    return message


def _profile(
    rel: str, kind: str, fmt: str, tally: _Tally, issues: list[RowIssue], issue_count: int
) -> ExamplesScan:
    listed = tuple(RowIssue(rel, issue.line, issue.message) for issue in issues)
    profile = ExamplesProfile(
        path=rel,
        file_type=kind,
        format=fmt,
        rows=tally.rows,
        tokens_mean=round(tally.tokens_sum / tally.rows, 2),
        tokens_max=tally.tokens_max,
        input_tokens_max=tally.input_max,
        output_tokens_max=tally.output_max,
        duplicates=tally.rows - len(tally.seen),
        labels=len(tally.labels) if fmt == "text-label" else None,
        with_source=tally.with_source,
        bad_rows=listed,
        omitted_issues=issue_count - len(listed),
    )
    return ExamplesScan(profile, tally.inputs, tally.sources)


def _digest(value: object) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _no_valid_rows(key: str, rel: str, issues: list[RowIssue], count: int, forced: str | None) -> ConfigError:
    shown = "\n".join(f"  {rel}:{issue.line}: {issue.message}" for issue in issues[:5])
    more = f"\n  ... and {count - 5} more" if count > 5 else ""
    if forced:
        hint = f'fix the rows, or set {key}.format to the format the file uses (or "auto")'
    else:
        hint = "fix the rows listed; every row needs the fields of one format: " + "; ".join(
            f"{n}: {FIELDS[n]}" for n in FORMATS
        )
    return ConfigError(f"{key}.path: {rel}: no valid rows ({count} bad)\n{shown}{more}", hint=hint)


def _shape(kind: str) -> str:
    if kind == "jsonl":
        return "one JSON object per line"
    if kind == "json":
        return "a JSON array of objects"
    return "a header line naming the columns, then one example per line"
