"""Status without running anything: which steps are fresh, which would run, and why."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from adaptfile.engine.freshness import explain
from adaptfile.engine.keys import step_key
from adaptfile.engine.session import Session


@dataclass
class StepStatus:
    """One step's verdict. `cached`: stale but its outputs are in the cache, so a build restores them."""

    step_id: str
    fresh: bool
    reasons: list[str] = field(default_factory=list)
    key: str | None = None
    cached: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "state": "fresh" if self.fresh else "stale",
            "reasons": self.reasons,
            "key": self.key,
            "cached": self.cached,
        }


def assess(
    session: Session, forced: Container[str] = (), assume_lock_outputs: bool = False
) -> list[StepStatus]:
    """Walk the selected steps in order. A step whose upstream must rerun is stale ("upstream stale")
    unless `assume_lock_outputs`: then an upstream whose key matches adapt.lock is assumed to
    reproduce the lock's output digests (what --frozen checks)."""
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
        verdicts.append(verdict)
        if valid and entry is not None and spec.id not in forced:
            known[spec.id] = entry.outputs
        elif assume_lock_outputs and session.lock_steps.get(spec.id, {}).get("key") == key:
            known[spec.id] = session.lock_steps[spec.id].get("outputs")
        else:
            known[spec.id] = None
    session.state.flush()
    return verdicts
