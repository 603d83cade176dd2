"""`adapt plan` never loads the ML stack: planning must stay instant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "peft", "llama_index", "sentence_transformers", "numpy")

PROBE = f"""
import json, sys
from adaptfile.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & {set(HEAVY)!r})
print("IMPORTED=" + json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def loaded_heavy_modules(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    marker = [line for line in done.stderr.splitlines() if line.startswith("IMPORTED=")]
    assert marker, done.stderr
    return json.loads(marker[-1].removeprefix("IMPORTED="))


@pytest.mark.parametrize("args", [("plan",), ("plan", "--json"), ("schema",)])
def test_planning_imports_no_ml_library(args: tuple[str, ...]) -> None:
    result = loaded_heavy_modules("-C", str(REPO / "examples" / "quickstart"), *args)
    assert result["code"] == 0
    assert result["heavy"] == []
