"""The content-addressed store: `.adapt/cache/<key[:2]>/<key>/{out/, meta.json}`, published atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptfile.engine.hashing import file_digest, list_files, tree_digest
from adaptfile.engine.layout import Layout
from adaptfile.engine.state import State

META_SCHEMA = 1


@dataclass(frozen=True)
class Entry:
    """A published cache entry: where it is and what its meta.json says."""

    key: str
    path: Path
    meta: dict[str, Any]

    @property
    def out(self) -> Path:
        return self.path / "out"

    @property
    def outputs(self) -> dict[str, str]:
        return self.meta["outputs"]


class Store:
    """Lookup, verification, publication and removal of step outputs by key."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def entry_dir(self, key: str) -> Path:
        return self.layout.cache / key[:2] / key

    def load(self, key: str) -> Entry | None:
        """The entry for `key`, or None when absent; an entry without readable meta is dropped."""
        path = self.entry_dir(key)
        try:
            with open(path / "meta.json", "rb") as handle:
                meta = json.load(handle)
        except FileNotFoundError:
            if path.exists():
                self.drop(key)
            return None
        except (OSError, ValueError):
            self.drop(key)
            return None
        if meta.get("schema") != META_SCHEMA or meta.get("key") != key:
            self.drop(key)
            return None
        return Entry(key, path, meta)

    def verify(self, entry: Entry, state: State) -> bool:
        """Do the entry's files still have the digests recorded when it was published?"""
        base = self.layout.relative(entry.out) + "/"
        expected = entry.meta["files"]
        try:
            actual = state.digests(self.layout.root, [base + rel for rel in expected])
        except OSError:
            return False
        return all(actual[base + rel] == digest for rel, digest in expected.items())

    def staging(self, key: str) -> Path:
        """A fresh staging directory for building `key`; its `out/` is where a step writes."""
        path = self.layout.tmp / f"{key}.{os.getpid()}"
        if path.exists():
            shutil.rmtree(path)
        (path / "out").mkdir(parents=True)
        return path

    def publish(
        self,
        staging: Path,
        key: str,
        outputs: dict[str, bool],
        meta: dict[str, Any],
        volatile: frozenset[str] = frozenset(),
    ) -> Entry:
        """Digest the staged outputs, write meta.json, and rename the whole entry into place.

        `volatile` outputs hold measurements (timings, memory) that differ from run to run: they
        are published and integrity-checked like the rest, but in `outputs` — what downstream keys,
        adapt.lock and --frozen compare — they stand as "volatile:<key>": they change exactly when
        the step's key does, so steps reading them still rebuild, and two machines still agree.
        """
        files = {rel: file_digest(staging / "out" / rel) for rel in list_files(staging / "out")}
        digests = output_digests(files, outputs)
        meta = {
            **meta,
            "schema": META_SCHEMA,
            "key": key,
            "files": files,
            "outputs": {name: (f"volatile:{key}" if name in volatile else d) for name, d in digests.items()},
            "volatile": {name: d for name, d in digests.items() if name in volatile},
        }
        return self.install(staging, key, meta)

    def install(self, staging: Path, key: str, meta: dict[str, Any]) -> Entry:
        """Write `meta` as the staged entry's meta.json and rename the entry into place (a step's
        fresh outputs, or an entry downloaded from a remote cache and verified against `meta`)."""
        (staging / "meta.json").write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n")
        target = self.entry_dir(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a forced rebuild replaces the entry it rebuilt
            self.drop(key)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "meta.json").exists():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # a concurrent build published the same key first
            meta = json.loads((target / "meta.json").read_text())
        return Entry(key, target, meta)

    def drop(self, key: str) -> None:
        """Remove an entry: rename it out of the cache first so it is never seen half-deleted."""
        path = self.entry_dir(key)
        if not path.exists():
            return
        self.layout.tmp.mkdir(parents=True, exist_ok=True)
        doomed = self.layout.tmp / f"drop.{key}.{os.getpid()}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def keys(self) -> Iterator[str]:
        if not self.layout.cache.is_dir():
            return
        for shard in sorted(os.scandir(self.layout.cache), key=lambda e: e.name):
            if shard.is_dir():
                for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
                    yield entry.name

    def size(self, key: str) -> int:
        return disk_usage(self.entry_dir(key))


def output_digests(files: dict[str, str], outputs: dict[str, bool]) -> dict[str, str]:
    """Each declared output's digest: a file's sha256, or the tree digest of a directory."""
    digests: dict[str, str] = {}
    for name, is_dir in outputs.items():
        if is_dir:
            prefix = name + "/"
            digests[name] = tree_digest(
                {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}
            )
        else:
            digests[name] = files[name]
    return digests


def disk_usage(path: Path) -> int:
    """Bytes used by the files under `path`."""
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
