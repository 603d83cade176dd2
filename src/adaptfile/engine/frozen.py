"""`--frozen`: predict, before running anything, every way a build would change adapt.lock."""

from __future__ import annotations

from adaptfile.engine.assess import assess
from adaptfile.engine.lockfile import lock_document
from adaptfile.engine.session import Session


def lock_changes(session: Session) -> list[str]:
    """What would differ from adapt.lock. Upstream steps whose key matches the lock are assumed to
    reproduce its output digests (checked again after they run)."""
    if session.lock is None:
        return ["there is no adapt.lock"]
    problems: list[str] = []
    expected = lock_document(session.meta, {})
    for name in ("schema", "tool", "strategies", "model"):
        if session.lock.get(name) != expected[name]:
            problems.append(f"{name} changed: {session.lock.get(name)} → {expected[name]}")
    plan_ids = {spec.id for spec in session.plan}
    for step_id in sorted(set(session.lock_steps) - plan_ids):
        problems.append(f"step {step_id} is in adapt.lock but not in the plan")
    for verdict in assess(session, assume_lock_outputs=True):
        locked = session.lock_steps.get(verdict.step_id)
        if locked is None:
            problems.append(f"step {verdict.step_id} is not in adapt.lock")
        elif verdict.key != locked.get("key"):
            why = "; ".join(verdict.reasons) or "key changed"
            problems.append(f"step {verdict.step_id} would change ({why})")
    return problems
