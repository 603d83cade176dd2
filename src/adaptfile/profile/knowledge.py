"""Profile the [data.knowledge] corpus: expand globs, stat every file, sample text, extrapolate tokens."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, NamedTuple

from adaptfile.errors import ConfigError
from adaptfile.globwalk import GlobWalk
from adaptfile.profile.model import KnowledgeProfile
from adaptfile.profile.text import TEXT_TYPES, estimate_tokens, extract_text, json_texts, squeeze
from adaptfile.profile.token_cache import TokenCache

if TYPE_CHECKING:
    from adaptfile.config.model import KnowledgeConfig

SAMPLE_BUDGET = 4 << 20  # bytes read from the whole corpus; the rest is extrapolated by size
HEAD_BYTES = 256 << 10  # bytes read from one file when the corpus is sampled
PDF_HEAD_BYTES = 2 << 20  # PDFs keep their text in compressed streams: read more of each
KEY = "data.knowledge.paths"
NO_EXTENSION = "text (no extension)"  # the by_type key of README, LICENSE, … read as plain text


class _File(NamedTuple):  # a tuple: 10,000 of them are made on every plan and no-op build
    rel: str
    path: str
    kind: str
    size: int
    stat: os.stat_result


def profile_knowledge(root: Path, config: KnowledgeConfig) -> KnowledgeProfile:
    """Count, size and token-estimate the documents matched by `config.paths` under `root`."""
    return profile_knowledge_files(root, config)[0]


def profile_knowledge_files(root: Path, config: KnowledgeConfig) -> tuple[KnowledgeProfile, list[str]]:
    """profile_knowledge, and the relative paths of the documents it read (sorted), from the same walk."""
    cache = TokenCache(str(root))
    files, skipped = expand(root, config.paths, cache)
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
        tokens += _estimate_kind(kind, group, kind_bytes, budget, config.text_field, cache)
    cache.save()
    profile = KnowledgeProfile(
        files=len(files),
        bytes=total,
        tokens=tokens,
        by_type=dict(sorted(Counter(f.kind for f in files).items())),
        skipped=skipped,
    )
    return profile, [f.rel for f in files]


def expand(
    root: Path, patterns: list[str], cache: TokenCache | None = None
) -> tuple[list[_File], dict[str, str]]:
    """Files matched by the patterns (sorted relative paths) and the paths skipped, sorted, with why.

    The hot path of a no-op build: one scandir walk and one stat per file, paths kept as strings; a
    file the token cache read at this very stat is known readable text (a chmod moves ctime).
    """
    base = str(root)
    walk = GlobWalk(base)
    inside = base.rstrip("/") + "/"
    matched: dict[str, os.stat_result | None] = {}  # relative path -> stat, None when unreadable
    for index, pattern in enumerate(patterns):
        found = dirs = 0
        for hit in walk.glob(pattern):
            try:
                info = os.stat(hit if hit[:1] == "/" else inside + hit)
            except OSError:
                matched.setdefault(_relative(hit, base), None)
                found += 1
                continue
            if S_ISDIR(info.st_mode):
                dirs += 1
            elif S_ISREG(info.st_mode):
                matched.setdefault(_relative(hit, base), info)
                found += 1
        if not found:
            raise _no_match(root, index, pattern, dirs > 0)
    kept: list[_File] = []
    skipped: dict[str, str] = {}
    for rel in sorted(matched):
        info = matched[rel]
        path = rel if rel[0] == "/" else inside + rel
        suffix = _suffix(rel).lower()
        if info is None:
            kind, reason = None, "cannot be read (stat failed)"
        elif cache is not None and cache.known(rel, info):  # read before at this very stat: text
            kind, reason = suffix or NO_EXTENSION, ""
        else:
            kind, reason = file_kind(path, suffix)
        if kind is None or info is None:
            skipped[rel] = reason
            continue
        kept.append(_File(rel, path, "md" if kind == "markdown" else kind, info.st_size, info))
    return kept, skipped


def file_kind(path: str, suffix: str) -> tuple[str | None, str]:
    """(the type the corpus reads `path` as, ""), or (None, why it is skipped). A known extension (`suffix`,
    lower case, no dot) decides; a file without one (README, LICENSE, CHANGELOG) is read as text when its
    first bytes decode as text, the same test knowledge.load applies to the whole file."""
    from adaptfile.knowledge.documents import SNIFF_BYTES, Unreadable, decode

    if suffix and suffix not in TEXT_TYPES:
        return None, f"unsupported file type .{suffix}"
    if not os.access(path, os.R_OK):
        return None, "not readable (permission denied)"
    if suffix:
        return suffix, ""
    try:
        with open(path, "rb") as handle:
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


def _estimate_kind(
    kind: str, group: list[_File], kind_bytes: int, budget: int, text_field: str, cache: TokenCache
) -> int:
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
        known = cache.get(item.rel, item.stat, limit, text_field)
        if known is None:
            checked = time.time_ns()
            known = _estimate_file(kind, item, limit, text_field)
            if known is None:
                continue
            cache.put(item.rel, item.stat, checked, limit, text_field, *known)
        read += known[0]
        tokens += known[1]
    if read == 0:
        return 0
    return round(tokens * kind_bytes / read)


def _estimate_file(kind: str, item: _File, limit: int, text_field: str) -> tuple[int, int] | None:
    """(bytes read, estimated tokens) of the first `limit` bytes of one file; None when unreadable."""
    try:
        with open(item.path, "rb") as handle:
            data = handle.read(limit)
    except OSError:
        return None
    complete = len(data) >= item.size
    if kind in ("json", "jsonl", "ndjson"):
        texts = json_texts(kind, data, text_field, complete)
        if not texts and data.strip() and f'"{text_field}"'.encode() not in data:
            raise _no_text_field(item.rel, text_field)
        text = squeeze(" ".join(texts))
    else:
        text = extract_text(kind, data, text_field, complete)
    return len(data), estimate_tokens(text)


def _suffix(rel: str) -> str:
    """The extension without its dot, as pathlib's suffix has it ("" for ".md" or "notes.")."""
    name = rel.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot + 1 :] if 0 < dot < len(name) - 1 else ""


def _relative(hit: str, root: str) -> str:
    """A glob hit as a POSIX path relative to the root (absolute patterns may leave the root)."""
    if os.path.isabs(hit):
        path = Path(hit)
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()
    if "//" in hit or "/." in "/" + hit or hit.endswith("/"):
        return os.path.normpath(hit)
    return hit  # what the walk yields is already normal: skip normpath's cost per file


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
