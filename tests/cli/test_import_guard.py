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
    return {**json.loads(marker[-1].removeprefix("IMPORTED=")), "stdout": done.stdout}


@pytest.mark.parametrize("args", [("plan",), ("plan", "--json"), ("schema",)])
def test_planning_imports_no_ml_library(args: tuple[str, ...]) -> None:
    result = loaded_heavy_modules("-C", str(REPO / "examples" / "quickstart"), *args)
    assert result["code"] == 0
    assert result["heavy"] == []


def test_a_noop_build_imports_no_ml_library(tmp_path: Path) -> None:
    """A no-op `adapt build` costs stat calls and the CLI's own imports, not the ML stack's."""
    (tmp_path / "adapt.toml").write_text(
        '[project]\nname = "noop"\n\n[model]\nbase = "scratch"\n\n'
        '[data.knowledge]\npaths = ["docs/**/*.md"]\n\n[strategy]\nexclude = ["rag"]\n'
    )
    for rel in ("docs/a.md", "docs/guide/b.md", "docs/guide/deep/c.md", "docs/.draft.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"{rel}: hold the reset button for ten seconds\n")
    first = loaded_heavy_modules("-C", str(tmp_path), "build", "knowledge.load")
    assert first["code"] == 0
    again = loaded_heavy_modules("-C", str(tmp_path), "build", "knowledge.load")
    assert again["code"] == 0 and "up to date" in again["stdout"]
    assert again["heavy"] == []
