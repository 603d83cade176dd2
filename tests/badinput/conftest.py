"""Fixtures of the bad-input suite: one shared build of the tiny project, and private copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .project import SECRETS, project, run_adapt


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The tiny project built once with secrets planted in the environment: (root, outputs of each command)."""
    root = project(tmp_path_factory.mktemp("built"), {})
    outputs: dict[str, str] = {}
    for name, args in {
        "plan": ("plan", "--json"),
        "build": ("build",),
        "status": ("status", "--json"),
    }.items():
        done = run_adapt("-C", str(root), *args, env=SECRETS)
        assert done.returncode == 0, done.stderr
        outputs[name] = done.stdout + done.stderr
    return root, outputs


@pytest.fixture
def built_copy(built: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A private copy of the built project, free to corrupt."""
    target = tmp_path / "project"
    shutil.copytree(built[0], target, symlinks=True)
    return target
