"""examples/quickstart end to end, as a user runs it (slow: a few minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def _adapt(root: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args], input=input,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.slow
def test_quickstart_build_ask_eval(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns("build", ".adapt", "adapt.lock"))
    started = time.monotonic()
    build = _adapt(root, "build")
    assert build.returncode == 0, build.stdout + build.stderr
    assert time.monotonic() - started < 600
    report = json.loads((root / "build/report/report.json").read_text())
    nll = {v["name"]: v["metrics"]["answer_nll"] for v in report["variants"]}
    assert set(nll) == {"base", "icl", "icl+rag", "icl+rag+lora"}
    assert nll["icl+rag+lora"] < nll["icl"]  # the fine-tune measurably changes the model

    again = _adapt(root, "build")
    assert again.returncode == 0 and "up to date" in again.stdout

    ask = _adapt(root, "ask", "--json", input="How do I reset the router?\nWhat colour is the WAN port?\n")
    assert ask.returncode == 0, ask.stderr
    rows = [json.loads(line) for line in ask.stdout.splitlines()]
    assert len(rows) == 2 and all(r["citations"] for r in rows)

    board = _adapt(root, "eval")
    assert board.returncode == 0 and "icl+rag+lora" in board.stdout and "best: " in board.stdout
