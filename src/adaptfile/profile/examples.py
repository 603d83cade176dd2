"""Profile a [data.examples] / [data.eval] file: validate every row, detect the format, count tokens."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
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
class _Row:
    line: int
    fmt: str | None  # detected (auto) or forced format
    example: Example | None = None
    error: str | None = None
    record: dict[str, Any] | None = None  # kept only when no format was detected


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
    """Read every row once; rows of a minority format or with bad fields become RowIssues."""
    path, kind = _locate(root, config.path, key)
    forced = None if config.format == "auto" else config.format
    reader = RowReader(path, kind)
    rows: list[_Row] = []
    for raw in reader.rows():
        if raw.record is None:
            rows.append(_Row(raw.line, None, error=raw.error))
            continue
        fmt = forced or detect(raw.record)
        if fmt is None:
            rows.append(_Row(raw.line, None, record=raw.record))
            continue
        try:
            rows.append(_Row(raw.line, fmt, example=normalize(raw.record, fmt)))
        except RowError as err:
            rows.append(_Row(raw.line, fmt, error=_mismatch(str(err), raw.record, forced, key)))
    if not rows:
        what = "has a header but no rows" if kind in ("csv", "tsv") and path.stat().st_size else "is empty"
        raise ConfigError(
            f"{key}.path: {config.path} {what}",
            hint=f"add examples ({_shape(kind)}), or remove the [{key}] table",
        )
    fmt = forced or _majority(rows)
    examples, issues = _judge(rows, fmt)
    rel = Path(os.path.normpath(config.path)).as_posix()
    if not examples:
        raise _no_valid_rows(key, rel, fmt, issues, forced)
    return _tally(rel, kind, fmt or "", examples, issues, reader.unread_lines)


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


def _majority(rows: list[_Row]) -> str | None:
    counts = Counter(row.fmt for row in rows if row.fmt)
    if not counts:
        return None
    best = max(counts.values())
    return next(fmt for fmt in FORMATS if counts[fmt] == best)


def _judge(rows: list[_Row], fmt: str | None) -> tuple[list[tuple[int, Example]], list[RowIssue]]:
    """Valid examples of format `fmt` and an issue for every other row."""
    counts = Counter(row.fmt for row in rows if row.fmt)
    examples: list[tuple[int, Example]] = []
    issues: list[RowIssue] = []
    for row in rows:
        if row.example is not None and row.fmt == fmt:
            examples.append((row.line, row.example))
            continue
        if row.error is not None:
            message = row.error
        elif row.fmt is not None:
            message = (
                f"looks like {row.fmt} ({FIELDS[row.fmt]}) but {counts[fmt]} of {len(rows)} rows are "
                f"{fmt}: use one format per file"
            )
        elif fmt is None:
            message = (
                f"no known example fields ({describe_keys(row.record or {})}); expected one of: "
                + "; ".join(f"{name}: {FIELDS[name]}" for name in FORMATS)
            )
        else:
            try:
                normalize(row.record or {}, fmt)
                message = f"does not look like {fmt}"
            except RowError as err:
                message = f"{err} ({describe_keys(row.record or {})})"
        issues.append(RowIssue("", row.line, message))
    return examples, issues


def _mismatch(message: str, record: dict[str, Any], forced: str | None, key: str) -> str:
    """Add a fix when a forced format rejects a row that plainly has another format."""
    seen = detect(record)
    if forced and seen and seen != forced:
        return f'{message}; this row looks like {seen}: set {key}.format = "{seen}" or "auto"'
    return message


def _tally(
    rel: str, kind: str, fmt: str, examples: list[tuple[int, Example]], issues: list[RowIssue], unread: int
) -> ExamplesScan:
    totals: list[int] = []
    input_max = output_max = 0
    rows_seen: set[bytes] = set()
    inputs: set[bytes] = set()
    labels: set[str] = set()
    with_source = 0
    sources: dict[str, int] = {}
    for _, example in examples:
        size_in = estimate_tokens(example.input)
        size_out = estimate_tokens(example.output)
        input_max, output_max = max(input_max, size_in), max(output_max, size_out)
        totals.append(size_in + size_out)
        rows_seen.add(_digest(example.messages or (example.input, example.output)))
        inputs.add(_digest(normal_text(example.input)))  # case/punctuation variants leak too
        if example.label is not None:
            labels.add(example.label)
        with_source += example.source is not None
        if example.source is not None:
            sources[example.source] = sources.get(example.source, 0) + 1
    parsed = len(examples) + len(issues)
    extra = round(unread * len(examples) / parsed) if unread else 0
    listed = tuple(RowIssue(rel, issue.line, issue.message) for issue in issues[:MAX_ISSUES])
    profile = ExamplesProfile(
        path=rel,
        file_type=kind,
        format=fmt,
        rows=len(examples) + extra,
        tokens_mean=round(sum(totals) / len(totals), 2),
        tokens_max=max(totals),
        input_tokens_max=input_max,
        output_tokens_max=output_max,
        duplicates=len(examples) - len(rows_seen),
        labels=len(labels) if fmt == "text-label" else None,
        with_source=with_source,
        bad_rows=listed,
        omitted_issues=len(issues) - len(listed),
        unread_rows=extra,
    )
    return ExamplesScan(profile, inputs, sources)


def _digest(value: object) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _no_valid_rows(
    key: str, rel: str, fmt: str | None, issues: list[RowIssue], forced: str | None
) -> ConfigError:
    shown = "\n".join(f"  {rel}:{issue.line}: {issue.message}" for issue in issues[:5])
    more = f"\n  ... and {len(issues) - 5} more" if len(issues) > 5 else ""
    if forced:
        hint = f'fix the rows, or set {key}.format to the format the file uses (or "auto")'
    else:
        hint = "fix the rows listed; every row needs the fields of one format: " + "; ".join(
            f"{n}: {FIELDS[n]}" for n in FORMATS
        )
    return ConfigError(f"{key}.path: {rel}: no valid rows ({len(issues)} bad)\n{shown}{more}", hint=hint)


def _shape(kind: str) -> str:
    if kind == "jsonl":
        return "one JSON object per line"
    if kind == "json":
        return "a JSON array of objects"
    return "a header line naming the columns, then one example per line"
