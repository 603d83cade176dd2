"""Run the real `adapt` command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def adapt() -> Callable[..., subprocess.CompletedProcess[str]]:
    """adapt(*args, cwd=...) runs `python -m adaptfile *args` and returns the finished process."""

    def run(
        *args: str, cwd: Path | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "adaptfile", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run
