"""`adapt cache status|push|pull|gc`: compare and move entries between the local and the remote cache."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.engine.keys import step_key
from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import LockMeta, read_lock
from adaptfile.engine.mutex import ProjectLock
from adaptfile.engine.protocol import output_names
from adaptfile.engine.remote import RemoteCache, RemoteCorrupt
from adaptfile.engine.reporter import Reporter
from adaptfile.engine.runner import remember_outputs
from adaptfile.engine.session import Session, open_session
from adaptfile.engine.store import Entry

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


@dataclass
class CacheRow:
    """One step: its current key (None while an upstream is in neither cache) and where it is cached.
    `action` says what push/pull did: pushed, pulled, present, missing, corrupt."""

    step_id: str
    key: str | None
    local: bool
    remote: bool
    action: str = ""
    bytes: int = 0
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "key": self.key,
            "local": self.local,
            "remote": self.remote,
            "action": self.action,
            "bytes": self.bytes,
            "note": self.note,
        }


def cache_status(
    root: Path, specs: Sequence[StepSpec], meta: LockMeta, remote: RemoteCache, targets: Sequence[str] = ()
) -> list[CacheRow]:
    """Each selected step's key, and whether the local and the remote cache hold it; changes nothing."""
    session = open_session(Layout(Path(root)), specs, meta, targets)
    try:
        return _walk(session, remote, action=None, reporter=Reporter())
    finally:
        session.close()


def push(
    root: Path,
    specs: Sequence[StepSpec],
    meta: LockMeta,
    remote: RemoteCache,
    targets: Sequence[str] = (),
    reporter: Reporter | None = None,
) -> list[CacheRow]:
    """Upload the selected steps' local entries that the remote lacks (holding the project lock, so
    `adapt gc` cannot delete an entry while it is read)."""
    return _locked(root, specs, meta, remote, targets, "push", reporter or Reporter())


def pull(
    root: Path,
    specs: Sequence[StepSpec],
    meta: LockMeta,
    remote: RemoteCache,
    targets: Sequence[str] = (),
    reporter: Reporter | None = None,
) -> list[CacheRow]:
    """Download the selected steps' remote entries that the local cache lacks; the next
    `adapt build` restores them without running anything."""
    return _locked(root, specs, meta, remote, targets, "pull", reporter or Reporter())


def _locked(root: Path, specs: Sequence[StepSpec], meta: LockMeta, remote: RemoteCache,
            targets: Sequence[str], action: str, reporter: Reporter) -> list[CacheRow]:  # fmt: skip
    layout = Layout(Path(root))
    mutex = ProjectLock(layout.mutex)
    mutex.acquire(wait=True, on_wait=reporter.info)
    try:
        session = open_session(layout, specs, meta, targets)
        try:
            rows = _walk(session, remote, action, reporter)
            session.state.flush()
            return rows
        finally:
            session.close()
    finally:
        mutex.release()
        reporter.close()


def _walk(session: Session, remote: RemoteCache, action: str | None, reporter: Reporter) -> list[CacheRow]:
    """Steps in dependency order, each under its planned key or, when neither cache holds that, under
    adapt.lock's key; an upstream's outputs come from whichever cache holds it."""
    known: dict[str, dict[str, str]] = {}
    rows: list[CacheRow] = []
    for spec in session.steps:
        if any(dep not in known for dep in spec.deps):
            rows.append(
                CacheRow(spec.id, None, False, False, "missing", note="an upstream step is in no cache")
            )
            continue
        planned = step_key(session.parts(spec, {dep: known[dep] for dep in spec.deps}))
        locked = session.lock_steps.get(spec.id, {}).get("key")
        # adapt.lock's key too: a build's rungs can give a step other deps than the plan (the report)
        for key in dict.fromkeys(k for k in (planned, locked) if k):
            entry = session.store.load(key)
            local = entry if entry is not None and session.store.verify(entry, session.state) else None
            try:
                remote_meta, corrupt = remote.lookup(key), False
            except RemoteCorrupt:
                remote_meta, corrupt = None, True
            if local is not None or remote_meta is not None:
                break
        row = CacheRow(spec.id, key, local is not None, remote_meta is not None)
        if action == "push":
            _push_one(row, local, remote, reporter, corrupt)
        elif action == "pull":
            local = _pull_one(row, session, spec.id, remote, reporter) if local is None else local
            row.action = row.action or "present"
        rows.append(row)
        outputs = local.outputs if local is not None else (remote_meta or {}).get("outputs")
        if outputs is not None:
            known[spec.id] = outputs
    return rows


def _push_one(row: CacheRow, local: Entry | None, remote: RemoteCache, reporter: Reporter,
              corrupt: bool) -> None:  # fmt: skip
    if local is None:
        row.action, row.note = "missing", "not in the local cache (run `adapt build`)"
        return

    def progress(done: int, total: int) -> None:
        reporter.transfer(row.step_id, "upload", done, total)

    sent = remote.push(local, progress, overwrite=corrupt)
    row.action = "present" if sent is None else "pushed"
    row.bytes, row.remote = sent or 0, True


def _pull_one(row: CacheRow, session: Session, step_id: str, remote: RemoteCache,
              reporter: Reporter) -> Entry | None:  # fmt: skip
    if not row.remote:
        row.action, row.note = "missing", "not on the remote (run `adapt build` where it can push)"
        return None

    def progress(done: int, total: int) -> None:
        reporter.transfer(step_id, "download", done, total)

    assert row.key is not None
    try:
        entry = remote.fetch(row.key, session.store, output_names(session.kinds[step_id]), progress)
    except RemoteCorrupt as err:
        row.action, row.note = "corrupt", f"remote entry is corrupt: {err}"
        return None
    if entry is None:
        row.action, row.note = "missing", "gone from the remote"
        return None
    remember_outputs(session, entry)
    row.action, row.local = "pulled", True
    row.bytes = sum((entry.out / rel).stat().st_size for rel in entry.meta["files"])
    return entry


def lock_keys(paths: Sequence[Path]) -> set[str]:
    """Every step key the given lock files name (what `adapt cache gc --remote` keeps)."""
    keys: set[str] = set()
    for path in paths:
        document = read_lock(Path(path))
        if document is None:
            from adaptfile.errors import ConfigError

            raise ConfigError(f"--keep-lock {path}: no such file", hint="name an adapt.lock to keep")
        keys |= {str(r.get("key")) for r in document.get("steps", {}).values() if r.get("key")}
    return keys
