"""Fault tests on a real small build: the mini quickstart of tests/runtime, run as `python -m adaptfile`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("sentence_transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))  # mini_project

from faults_support import Reference, reference_build


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted `adapt build` of the mini project in its own process: its lock and wall time."""
    return reference_build(tmp_path_factory.mktemp("reference"))
