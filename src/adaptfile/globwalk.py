"""Glob patterns walked with os.scandir: glob.glob's matches, each directory listed once per walk."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence

# Hand-written because glob.glob(pattern, root_dir=root, recursive=True) lists every directory twice
# under "docs/**/*.md" (once for its subdirectories, once for the names) and keeps no listing
# between patterns; a no-op build walks the knowledge corpus twice (profile, engine inputs). The
# rules are glob's (Python 3.11, include_hidden=False), and tests/test_globwalk.py compares the two:
# `**` is any depth of non-hidden directories (symlinks followed); `*`, `?` and `[...]` skip names
# starting with "." unless the pattern part does; the literal part before the first wildcard is
# joined as written and not checked; literal parts after it must exist (lexists).

_Listing = list[tuple[str, bool]]  # (name, is a directory), in scandir order


class GlobWalk:
    """Expand patterns under one root; directory listings are shared by all patterns of the walk."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._listings: dict[str, _Listing] = {}

    def glob(self, pattern: str) -> Iterator[str]:
        """What glob.glob(pattern, root_dir=root, recursive=True) returns, in the same form and order."""
        if not pattern:
            return
        if not _magic(pattern):
            parent, name = os.path.split(pattern)
            if os.path.lexists(os.path.join(self.root, pattern)) if name else self._isdir(parent):
                yield pattern
            return
        parts = pattern.split("/")
        first = next(i for i, part in enumerate(parts) if _magic(part))
        prefix = pattern[: sum(len(p) + 1 for p in parts[:first])]
        if prefix.strip("/"):
            prefix = prefix.rstrip("/")  # as os.path.split leaves a directory name
        rest = [parts[first], *(p for p in parts[first + 1 : -1] if p)]
        if first < len(parts) - 1:
            rest.append(parts[-1])  # an empty last part is a trailing slash: directories only
        found = self._match(os.path.join(self.root, prefix), prefix, rest)
        if pattern.startswith("**"):
            head = next(found, "")  # glob drops the empty name `**` yields for the root itself
            if head:
                yield head
        yield from found

    def _match(self, base: str, rel: str, parts: list[str]) -> Iterator[str]:
        part, rest = parts[0], parts[1:]
        if part == "**":
            yield from self._match(base, _join(rel, ""), rest) if rest else (_join(rel, ""),)
            for sub in self._tree(base, dirs_only=bool(rest)):
                if rest:
                    yield from self._match(_join(base, sub), _join(rel, sub), rest)
                else:
                    yield _join(rel, sub)
        elif not part:
            if os.path.isdir(base):
                yield _join(rel, "")
        elif not _magic(part):
            if os.path.lexists(_join(base, part)):
                yield from self._then(base, rel, part, rest)
        else:
            hidden = part.startswith(".")
            names = [n for n, d in self._listing(base) if (d or not rest) and (hidden or n[0] != ".")]
            if rest:
                for name in fnmatch.filter(names, part):
                    yield from self._match(_join(base, name), _join(rel, name), rest)
            else:  # the usual last part ("*.md"): one generator less per file
                yield from [_join(rel, name) for name in fnmatch.filter(names, part)]

    def _then(self, base: str, rel: str, name: str, rest: list[str]) -> Iterator[str]:
        if rest:
            yield from self._match(_join(base, name), _join(rel, name), rest)
        else:
            yield _join(rel, name)

    def _tree(self, base: str, dirs_only: bool) -> Iterator[str]:
        """Non-hidden names below `base` at any depth, each before what lies inside it (glob's `**`)."""
        for name, is_dir in self._listing(base):
            if name[0] == "." or (dirs_only and not is_dir):
                continue
            yield name
            if is_dir:
                for below in self._tree(_join(base, name), dirs_only):
                    yield _join(name, below)

    def _listing(self, directory: str) -> _Listing:
        listing = self._listings.get(directory)
        if listing is None:
            listing = []
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        try:
                            listing.append((entry.name, entry.is_dir()))
                        except OSError:
                            listing.append((entry.name, False))
            except OSError:
                pass  # missing, not a directory or unreadable: glob lists nothing either
            self._listings[directory] = listing
        return listing

    def _isdir(self, rel: str) -> bool:
        return os.path.isdir(os.path.join(self.root, rel))


def _join(head: str, name: str) -> str:
    """os.path.join for a relative name, without its cost (a walk joins once per name)."""
    if not head:
        return name
    return head + name if head[-1] == "/" else head + "/" + name


def _magic(text: str) -> bool:
    return "*" in text or "?" in text or "[" in text


def read_at(row: Sequence[int], st: os.stat_result) -> bool:
    """Whether a cached row that starts with (inode, size, mtime_ns, ctime_ns) was taken at exactly this stat
    (the stat cache and the profile's token cache both trust a file's content only then)."""
    return (row[0], row[1], row[2], row[3]) == (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
