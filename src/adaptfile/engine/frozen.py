"""`--frozen`: predict, before running anything, every way a build would change adapt.lock."""

from __future__ import annotations

from collections.abc import Container, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adaptfile.engine.assess import assess
from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import LockMeta, lock_document
from adaptfile.engine.session import Session, open_session

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


def plan_lock_changes(
    root: Path, specs: Sequence[StepSpec], meta: LockMeta, optional: Container[str] = ()
) -> list[str]:
    """What a build of every step in `specs` would change in adapt.lock, computed before anything runs
    and without the project lock. `optional`: steps a build runs only on some outcomes (the goal
    ladder's later rungs); the lock may lack them, but where it has them their keys must match."""
    session = open_session(Layout(Path(root)), specs, meta)
    try:
        return lock_changes(session, optional)
    finally:
        session.close()


def lock_changes(session: Session, optional: Container[str] = ()) -> list[str]:
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
        if locked is None and verdict.step_id in optional:
            continue
        if locked is None:
            problems.append(f"step {verdict.step_id} is not in adapt.lock")
        elif verdict.key != locked.get("key"):
            why = "; ".join(verdict.reasons) or "key changed"
            problems.append(f"step {verdict.step_id} would change ({why})")
    return problems
