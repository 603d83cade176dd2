"""A reduced quickstart, built once per session with `adapt build`, for runtime, ask, eval and serve tests."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("sentence_transformers")

from mini_project import run_adapt, write_mini_project


@pytest.fixture(scope="session")
def mini_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini project after a full `adapt build` (every variant: the goal is out of reach)."""
    root = write_mini_project(tmp_path_factory.mktemp("mini"), target=0.01)
    code, out, err = run_adapt(root, "build")
    assert code == 0, out + err
    return root
