"""Helpers for real-process engine tests: write a test plan, start build_driver.py on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine_kinds import chain, spec_to_json

DRIVER = Path(__file__).resolve().parent / "build_driver.py"


def write_specs(root: Path, specs=None) -> None:
    (root / "specs.json").write_text(json.dumps([spec_to_json(s) for s in (specs or chain())]))


def run_driver(root: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
