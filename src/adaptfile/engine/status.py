"""`adapt status`: every step fresh or stale, with the reasons, computed without running anything."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adaptfile.engine.assess import StepStatus, assess
from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import LockMeta
from adaptfile.engine.session import open_session

if TYPE_CHECKING:
    from adaptfile.engine.remote import RemoteCache
    from adaptfile.plan.model import StepSpec


def status(
    root: Path,
    specs: Sequence[StepSpec],
    meta: LockMeta | None = None,
    targets: Sequence[str] = (),
    remote: RemoteCache | None = None,
) -> list[StepStatus]:
    """Each selected step's verdict; hashes only files whose stat changed; takes no lock. With
    `remote`, stale steps missing locally are looked up in the remote cache."""
    session = open_session(Layout(Path(root)), specs, meta or LockMeta(), targets)
    try:
        return assess(session, remote=remote)
    finally:
        session.close()
