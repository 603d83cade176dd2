"""`adapt clean` (build/ only) and `adapt gc` (cache entries no lock or recent build references)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import read_lock
from adaptfile.engine.mutex import ProjectLock
from adaptfile.engine.reporter import Reporter
from adaptfile.engine.state import State
from adaptfile.engine.store import Store, disk_usage
from adaptfile.engine.view import clear, read_manifest


def clean(root: Path, wait: bool = True, reporter: Reporter | None = None) -> int:
    """Remove build/ (the cache stays, so the next build restores it); returns bytes freed."""
    layout = Layout(Path(root))
    with _locked(layout, wait, reporter):
        return clear(layout)


@dataclass
class GcResult:
    removed: dict[str, int] = field(default_factory=dict)  # key → bytes
    kept: int = 0
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return sum(self.removed.values())


def collect_garbage(
    root: Path, keep: int = 3, dry_run: bool = False, wait: bool = True, reporter: Reporter | None = None
) -> GcResult:
    """Delete cache entries referenced neither by adapt.lock, build/manifest.json, nor the last
    `keep` builds; with `dry_run` only report what would go."""
    layout = Layout(Path(root))
    with _locked(layout, wait, reporter):
        state = State(layout.state)
        try:
            referenced = state.recent_build_keys(keep) if keep > 0 else set()
            lock = read_lock(layout.lockfile) or {}
            referenced |= {record.get("key") for record in lock.get("steps", {}).values()}
            referenced |= {record.get("key") for record in read_manifest(layout).get("steps", {}).values()}
            store = Store(layout)
            result = GcResult(dry_run=dry_run)
            for key in list(store.keys()):
                if key in referenced:
                    result.kept += 1
                    continue
                result.removed[key] = store.size(key)
                if not dry_run:
                    store.drop(key)
                    state.forget_prefix(layout.relative(store.entry_dir(key)) + "/")
                    shutil.rmtree(layout.work / key, ignore_errors=True)
            if not dry_run:
                _remove_empty_shards(layout)
                result.removed["(staging leftovers)"] = disk_usage(layout.tmp) if layout.tmp.exists() else 0
                shutil.rmtree(layout.tmp, ignore_errors=True)
                if not result.removed["(staging leftovers)"]:
                    del result.removed["(staging leftovers)"]
            return result
        finally:
            state.close()


class _locked:
    """Hold the project lock for the duration of a `with` block."""

    def __init__(self, layout: Layout, wait: bool, reporter: Reporter | None) -> None:
        self.lock = ProjectLock(layout.mutex)
        self.wait = wait
        self.reporter = reporter or Reporter()

    def __enter__(self) -> None:
        self.lock.acquire(wait=self.wait, on_wait=self.reporter.info)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _remove_empty_shards(layout: Layout) -> None:
    if not layout.cache.is_dir():
        return
    for shard in layout.cache.iterdir():
        if shard.is_dir() and not any(shard.iterdir()):
            shard.rmdir()
