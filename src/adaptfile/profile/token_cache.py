"""Token estimates of knowledge files, reused while a file's stat is unchanged (.adapt/profile/tokens.json)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from adaptfile.globwalk import read_at

CACHE = os.path.join(".adapt", "profile", "tokens.json")  # relative to the project root
VERSION = 1  # bump when profile/text.py extracts or counts differently: older files are then ignored
# A file's estimate is kept only when it was read this long after its mtime: a second write within
# the same timestamp tick keeps the stat (FAT stamps whole 2 s, other filesystems a few ms).
RACY_NS = 2_000_000_000
# One JSON document rather than sqlite rows: 10,000 files load in ~10 ms instead of ~15-60 ms.
_Row = list[Any]  # [inode, size, mtime_ns, ctime_ns, bytes asked for, text field, bytes read, tokens]


class TokenCache:
    """(bytes read, tokens) per file of one project, keyed by path, stat, bytes asked for and text field.

    Read once; `save` rewrites it with the files asked for this time, but only where the project
    already has `.adapt/` (planning alone never creates it). A cache that cannot be read or written
    costs re-reading the files, nothing else.
    """

    def __init__(self, root: str) -> None:
        self.dot = os.path.join(root, ".adapt")
        self.path = os.path.join(root, CACHE)
        self._rows: dict[str, _Row] | None = None
        self._kept: dict[str, _Row] = {}
        self._changed = False

    def known(self, rel: str, st: os.stat_result) -> bool:
        """Whether the file was read at exactly this stat (so it was readable: chmod changes ctime)."""
        row = self._load().get(rel)
        return row is not None and read_at(row, st)

    def get(self, rel: str, st: os.stat_result, limit: int, text_field: str) -> tuple[int, int] | None:
        """(bytes read, tokens) recorded for this file at this stat, or None."""
        row = self._load().get(rel)
        if row is None or row[4] != limit or row[5] != text_field or not self.known(rel, st):
            return None
        self._kept[rel] = row
        return row[6], row[7]

    def put(self, rel: str, st: os.stat_result, checked_ns: int, limit: int, text_field: str, read: int, tokens: int) -> None:  # fmt: skip
        """Record what reading `limit` bytes of the file gave; `checked_ns`: when the read began."""
        self._changed = True
        if checked_ns >= st.st_mtime_ns + RACY_NS:
            self._kept[rel] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, limit, text_field, read, tokens]  # fmt: skip

    def save(self) -> None:
        """Write the rows of this profile (dropping files not asked for); skipped when it cannot."""
        if not (self._changed or len(self._kept) != len(self._load())) or not os.path.isdir(self.dot):
            return
        staging = f"{self.path}.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):  # read-only, full: the files are read again next time
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(staging, "w", encoding="utf-8") as out:
                json.dump({"version": VERSION, "files": self._kept}, out, separators=(",", ":"))
            os.replace(staging, self.path)  # atomic: a concurrent reader sees the old or the new file
        with contextlib.suppress(OSError):
            os.unlink(staging)  # left only when the write failed

    def _load(self) -> dict[str, _Row]:
        if self._rows is None:
            self._rows = {}
            with contextlib.suppress(OSError, ValueError):  # missing or corrupt: a miss, rewritten later
                with open(self.path, encoding="utf-8") as handle:
                    document = json.load(handle)
                if document.get("version") == VERSION:
                    self._rows = document["files"]
        return self._rows
