"""Status without running anything: which steps are fresh, which would run, and why."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptfile.engine.freshness import explain
from adaptfile.engine.keys import step_key
from adaptfile.engine.session import Session

if TYPE_CHECKING:
    from adaptfile.engine.remote import RemoteCache


@dataclass
class StepStatus:
    """One step's verdict. `cached`: stale but its outputs are in the cache, so a build restores them;
    `remote`: stale, not in the local cache, but restorable from the remote cache."""

    step_id: str
    fresh: bool
    reasons: list[str] = field(default_factory=list)
    key: str | None = None
    cached: bool = False
    remote: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "state": "fresh" if self.fresh else "stale",
            "reasons": self.reasons,
            "key": self.key,
            "cached": self.cached,
            "remote": self.remote,
        }


def assess(
    session: Session,
    forced: Container[str] = (),
    assume_lock_outputs: bool = False,
    remote: RemoteCache | None = None,
) -> list[StepStatus]:
    """Walk the selected steps in order. A step whose upstream must rerun is stale ("upstream stale")
    unless `assume_lock_outputs`: then an upstream whose key matches adapt.lock is assumed to
    reproduce the lock's output digests (what --frozen checks). With `remote`, a stale step missing
    locally is looked up there (after a remote failure, `remote.disabled` says why)."""
    known: dict[str, dict[str, str] | None] = {}
    verdicts: list[StepStatus] = []
    for spec in session.steps:
        pending = tuple(dep for dep in spec.deps if known.get(dep) is None)
        upstream = {dep: known[dep] for dep in spec.deps if known.get(dep) is not None}
        parts = session.parts(spec, upstream)  # type: ignore[arg-type]
        previous_key, previous_parts = session.previous(spec.id)
        if pending:
            verdicts.append(StepStatus(spec.id, False, explain(previous_parts, parts, pending)))
            known[spec.id] = None
            continue
        key = step_key(parts)
        entry = session.store.load(key)
        valid = entry is not None and session.store.verify(entry, session.state)
        if spec.id in forced:
            verdict = StepStatus(spec.id, False, ["forced"], key)
        elif valid and previous_key == key:
            verdict = StepStatus(spec.id, True, [], key)
        else:
            if previous_key == key:
                reasons = ["cache entry missing" if entry is None else "cache entry corrupt"]
            else:
                reasons = explain(previous_parts, parts) or ["key changed"]
            verdict = StepStatus(spec.id, False, reasons, key, cached=valid)
        remote_meta = None if valid or spec.id in forced else _remote_lookup(remote, key)
        verdict.remote = remote_meta is not None
        verdicts.append(verdict)
        if valid and entry is not None and spec.id not in forced:
            known[spec.id] = entry.outputs
        elif remote_meta is not None:
            known[spec.id] = remote_meta["outputs"]
        elif assume_lock_outputs and session.lock_steps.get(spec.id, {}).get("key") == key:
            known[spec.id] = session.lock_steps[spec.id].get("outputs")
        else:
            known[spec.id] = None
    session.state.flush()
    return verdicts


def _remote_lookup(remote: RemoteCache | None, key: str) -> dict[str, Any] | None:
    from adaptfile.engine.remote import REMOTE_ERRORS, RemoteCorrupt

    if remote is None or not remote.usable:
        return None
    try:
        return remote.lookup(key)
    except RemoteCorrupt:
        return None
    except REMOTE_ERRORS as err:
        remote.disabled = err.message
        return None
