"""`.adapt/state` (sqlite): the stat cache, each step's last build record, and the build history."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from stat import S_ISREG
from typing import Any

from adaptfile.engine.hashing import file_digest
from adaptfile.globwalk import read_at

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, inode INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    digest TEXT, checked_ns INTEGER);
CREATE TABLE IF NOT EXISTS steps (step_id TEXT PRIMARY KEY, key TEXT, parts TEXT);
CREATE TABLE IF NOT EXISTS builds (id INTEGER PRIMARY KEY AUTOINCREMENT, steps TEXT);
"""
_SECOND = 1_000_000_000
_FINE_TICK_NS = 20_000_000  # kernel timestamps are jiffy-coarse: a few ms; keep a margin


def racy_window_ns(mtime_ns: int) -> int:
    """How long after a write the same mtime may still be reused by another write.

    A whole-second mtime suggests a coarse filesystem (FAT: 2 s), so the window widens.
    """
    return 2 * _SECOND if mtime_ns % _SECOND == 0 else _FINE_TICK_NS


class State:
    """One sqlite connection; stat-cache rows are read in one SELECT and written in one batch."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.db = self._open()
        except sqlite3.OperationalError:
            raise  # locked, I/O error, disk full: not corruption, so the history is kept
        except sqlite3.DatabaseError:
            path.unlink(missing_ok=True)  # a corrupt state only costs rehashing
            self.db = self._open()
        self._rows: dict[str, tuple[int, int, int, int, str, int]] | None = None
        self._pending: dict[str, tuple[int, int, int, int, str, int]] = {}
        self.hashed = 0  # files hashed by this process (a no-op build hashes none)
        self._stored_keys: dict[str, str] = {}  # step id → key, as read or written here

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        return db

    def close(self) -> None:
        self.flush()
        self.db.close()

    # -- stat cache -------------------------------------------------------------------------
    def _cached_rows(self) -> dict[str, tuple[int, int, int, int, str, int]]:
        if self._rows is None:
            cursor = self.db.execute(
                "SELECT path, inode, size, mtime_ns, ctime_ns, digest, checked_ns FROM files"
            )
            self._rows = {row[0]: row[1:] for row in cursor}
        return self._rows

    def digests(self, root: Path, relpaths: Iterable[str]) -> dict[str, str]:
        """Digest of each regular file (project-relative or absolute; others are left out): from
        the stat cache when its stat is unchanged, else by hashing it."""
        rows = self._cached_rows()
        base = str(root) + os.sep
        found: dict[str, str] = {}
        for rel in relpaths:
            full = rel if rel.startswith(os.sep) else base + rel
            st = os.stat(full)
            if not S_ISREG(st.st_mode):
                continue  # a directory matched by a glob: not an input file
            row = rows.get(rel)
            if (
                row is not None
                and read_at(row, st)
                and row[5] >= st.st_mtime_ns + racy_window_ns(st.st_mtime_ns)
            ):
                found[rel] = row[4]
                continue
            checked = time.time_ns()
            digest = file_digest(full)
            self.hashed += 1
            self.remember(rel, st, digest, checked)
            found[rel] = digest
        return found

    def remember(self, rel: str, st: os.stat_result, digest: str, checked_ns: int | None = None) -> None:
        """Record a file's digest; `checked_ns` None means trusted (written and closed by us)."""
        if checked_ns is None:
            checked_ns = st.st_mtime_ns + racy_window_ns(st.st_mtime_ns)
        row = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest, checked_ns)
        self._cached_rows()[rel] = row
        self._pending[rel] = row

    def forget_prefix(self, prefix: str) -> None:
        """Drop stat rows under a directory (a dropped cache entry)."""
        self.flush()
        self.db.execute("DELETE FROM files WHERE path >= ? AND path < ?", (prefix, prefix + "\uffff"))
        if self._rows is not None:
            for rel in [r for r in self._rows if r.startswith(prefix)]:
                del self._rows[rel]

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [(rel, *row) for rel, row in self._pending.items()]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._pending.clear()

    # -- step records and build history -----------------------------------------------------
    def step_records(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each step's last built key and key parts."""
        rows = self.db.execute("SELECT step_id, key, parts FROM steps").fetchall()
        self._stored_keys = {step_id: key for step_id, key, _ in rows}
        return {step_id: (key, json.loads(parts)) for step_id, key, parts in rows}

    def record_steps(self, records: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """Store each step's key and parts; a step whose key is already stored is skipped (its parts are
        what the key hashes), so a no-op build writes nothing."""
        rows = [
            (step_id, key, json.dumps(parts, sort_keys=True))
            for step_id, (key, parts) in records.items()
            if self._stored_keys.get(step_id) != key
        ]
        if not rows:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO steps VALUES (?, ?, ?)", rows)
        self._stored_keys.update((step_id, key) for step_id, key, _ in rows)

    def record_build(self, step_keys: dict[str, str]) -> None:
        """Append a build to the history unless it is the same as the last one."""
        text = json.dumps(step_keys, sort_keys=True)
        last = self.db.execute("SELECT steps FROM builds ORDER BY id DESC LIMIT 1").fetchone()
        if last is None or last[0] != text:
            self.db.execute("INSERT INTO builds (steps) VALUES (?)", (text,))

    def recent_build_keys(self, count: int) -> set[str]:
        """Keys used by the last `count` builds."""
        cursor = self.db.execute("SELECT steps FROM builds ORDER BY id DESC LIMIT ?", (count,))
        return {key for (text,) in cursor for key in json.loads(text).values()}
