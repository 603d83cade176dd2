"""Engine fixtures: a project tree with docs and notes, the trivial kinds registered, run tracking."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import engine_kinds
import pytest
from engine_kinds import register_kinds


@pytest.fixture(autouse=True)
def kinds() -> Iterator[list[str]]:
    """Register the trivial kinds; yields the list of step ids that ran in this process."""
    register_kinds()
    engine_kinds.RUNS.clear()
    yield engine_kinds.RUNS
    engine_kinds.RUNS.clear()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    files = {
        "docs/a.md": "alpha\n",
        "docs/b.md": "beta\n",
        "notes/n.txt": "note\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    old = 1_600_000_000_000_000_000  # files older than the racy window, as in a real checkout
    for name in files:
        os.utime(root / name, ns=(old, old))
    return root
