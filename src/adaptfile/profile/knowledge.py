"""Profile the [data.knowledge] corpus: expand globs, stat every file, sample text, extrapolate tokens."""

from __future__ import annotations

import glob
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adaptfile.errors import ConfigError
from adaptfile.profile.model import KnowledgeProfile
from adaptfile.profile.text import TEXT_TYPES, estimate_tokens, extract_text, json_texts, squeeze

if TYPE_CHECKING:
    from adaptfile.config.model import KnowledgeConfig

SAMPLE_BUDGET = 4 << 20  # bytes read from the whole corpus; the rest is extrapolated by size
HEAD_BYTES = 256 << 10  # bytes read from one file when the corpus is sampled
PDF_HEAD_BYTES = 2 << 20  # PDFs keep their text in compressed streams: read more of each
KEY = "data.knowledge.paths"
NO_EXTENSION = "text (no extension)"  # the by_type key of README, LICENSE, … read as plain text


@dataclass(frozen=True)
class _File:
    rel: str
    path: Path
    kind: str
    size: int


def profile_knowledge(root: Path, config: KnowledgeConfig) -> KnowledgeProfile:
    """Count, size and token-estimate the documents matched by `config.paths` under `root`."""
    files, skipped = expand(root, config.paths)
    if not files:
        raise ConfigError(
            f"{KEY}: the patterns match {len(skipped)} file(s) but none is a readable document: "
            f"{skipped_summary(skipped)}",
            hint=f"point {KEY} at {', '.join(sorted(TEXT_TYPES))} files (or text files without an extension), "
            "or convert the documents",
        )
    tokens = 0
    by_kind: dict[str, list[_File]] = {}
    for item in files:
        by_kind.setdefault(item.kind, []).append(item)
    total = sum(f.size for f in files)
    for kind, group in by_kind.items():
        kind_bytes = sum(f.size for f in group)
        budget = max(HEAD_BYTES, SAMPLE_BUDGET * kind_bytes // max(total, 1))
        tokens += _estimate_kind(kind, group, kind_bytes, budget, config.text_field)
    return KnowledgeProfile(
        files=len(files),
        bytes=total,
        tokens=tokens,
        by_type=dict(sorted(Counter(f.kind for f in files).items())),
        skipped=skipped,
    )


def expand(root: Path, patterns: list[str]) -> tuple[list[_File], dict[str, str]]:
    """Files matched by the patterns (sorted relative paths) and the paths skipped, sorted, with why."""
    matched: dict[str, int | None] = {}  # relative path -> size, None when unreadable
    for index, pattern in enumerate(patterns):
        found = dirs = 0
        for hit in glob.glob(pattern, root_dir=root, recursive=True):
            try:
                info = (root / hit).stat()
            except OSError:
                matched.setdefault(_relative(hit, root), None)
                found += 1
                continue
            if stat.S_ISDIR(info.st_mode):
                dirs += 1
            elif stat.S_ISREG(info.st_mode):
                matched.setdefault(_relative(hit, root), info.st_size)
                found += 1
        if not found:
            raise _no_match(root, index, pattern, dirs > 0)
    kept: list[_File] = []
    skipped: dict[str, str] = {}
    for rel in sorted(matched):
        size = matched[rel]
        path = root / rel
        kind, reason = file_kind(path) if size is not None else (None, "cannot be read (stat failed)")
        if kind is None:
            skipped[rel] = reason
            continue
        kept.append(_File(rel, path, kind, size or 0))
    return kept, skipped


def file_kind(path: Path) -> tuple[str | None, str]:
    """(the type the corpus reads `path` as, ""), or (None, why it is skipped). The extension decides when it
    is a known one; a file without one (README, LICENSE, CHANGELOG) is read as text when its first bytes
    decode as text, the same test knowledge.load applies to the whole file."""
    from adaptfile.knowledge.documents import SNIFF_BYTES, Unreadable, decode

    if not os.access(path, os.R_OK):
        return None, "not readable (permission denied)"
    kind = path.suffix.lower().lstrip(".")
    if kind in TEXT_TYPES:
        return ("md" if kind == "markdown" else kind), ""
    if kind:
        return None, f"unsupported file type .{kind}"
    try:
        with path.open("rb") as handle:
            decode(handle.read(SNIFF_BYTES))
    except Unreadable as why:
        return None, f"no extension and {why}"
    except OSError as err:
        return None, f"cannot be read ({err.strerror or err})"
    return NO_EXTENSION, ""


def skipped_summary(skipped: dict[str, str], shown: int = 3) -> str:
    """The first `shown` skipped files with their reasons, and how many more."""
    listed = ", ".join(f"{rel} ({why})" for rel, why in list(skipped.items())[:shown])
    return listed + (f" and {len(skipped) - shown} more" if len(skipped) > shown else "")


def _estimate_kind(kind: str, group: list[_File], kind_bytes: int, budget: int, text_field: str) -> int:
    """Tokens of one file type: exact when it fits the budget, else sampled heads scaled by bytes."""
    if kind_bytes <= budget:
        picks, head = group, None
    else:
        head = PDF_HEAD_BYTES if kind == "pdf" else HEAD_BYTES
        count = min(len(group), max(1, budget // head))
        picks = [group[i * len(group) // count] for i in range(count)]
    read = tokens = 0
    for item in picks:
        limit = item.size if head is None else min(item.size, head)
        try:
            with item.path.open("rb") as handle:
                data = handle.read(limit)
        except OSError:
            continue
        complete = len(data) >= item.size
        if kind in ("json", "jsonl", "ndjson"):
            texts = json_texts(kind, data, text_field, complete)
            if not texts and data.strip() and f'"{text_field}"'.encode() not in data:
                raise _no_text_field(item.rel, text_field)
            text = squeeze(" ".join(texts))
        else:
            text = extract_text(kind, data, text_field, complete)
        read += len(data)
        tokens += estimate_tokens(text)
    if read == 0:
        return 0
    return round(tokens * kind_bytes / read)


def _relative(hit: str, root: Path) -> str:
    """A glob hit as a POSIX path relative to the root (absolute patterns may leave the root)."""
    path = Path(hit)
    if path.is_absolute():
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()
    return Path(os.path.normpath(hit)).as_posix()


def _no_match(root: Path, index: int, pattern: str, only_dirs: bool) -> ConfigError:
    where = f"{KEY}[{index}]: {pattern!r}"
    if only_dirs:
        fixed = pattern.rstrip("/") + "/**/*.md"
        return ConfigError(
            f"{where} matches only directories under {root}",
            hint=f"match the files inside, e.g. {fixed!r} (** descends into subdirectories)",
        )
    return ConfigError(
        f"{where} matches no files under {root}",
        hint="patterns are relative to the directory holding adapt.toml and ** matches any depth, "
        f'e.g. "docs/**/*.md"; fix the pattern or remove it from {KEY}',
    )


def _no_text_field(rel: str, field: str) -> ConfigError:
    return ConfigError(
        f"data.knowledge.text_field: {rel}: no record has a string field {field!r}",
        hint="set data.knowledge.text_field to the key that holds each record's text",
    )
