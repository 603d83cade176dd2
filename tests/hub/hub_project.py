"""A small project on a hub model served by the stand-in, and the real `adapt` command run against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = "acme/tiny-qwen"
TOML = """[project]
name = "hubbed"
task = "qa"
instruction = "Answer briefly."

[model]
base = "{base}"
revision = "{revision}"

[data.examples]
path = "data/train.jsonl"

[data.eval]
path = "data/eval.jsonl"

[strategy]
include = ["icl"]
exclude = ["rag", "lora", "qlora", "prefix", "full", "cpt", "pretrain"]

[icl]
shots = 2
selection = "first"
"""
ROWS = [{"question": f"What is item {i}?", "answer": f"item {i} is a router part"} for i in range(8)]


def write_project(root: Path, base: str = REPO, revision: str = "main", toml: str | None = None) -> Path:
    """adapt.toml, 6 training rows and 2 eval rows under `root`."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "adapt.toml").write_text(toml or TOML.format(base=base, revision=revision))
    lines = [json.dumps(r) + "\n" for r in ROWS]
    (root / "data/train.jsonl").write_text("".join(lines[:6]))
    (root / "data/eval.jsonl").write_text("".join(lines[6:]))
    return root


def adapt(
    root: Path, env: dict[str, str], *args: str, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """`adapt -C root *args` in a subprocess with exactly `env` (the stand-in's HF_ENDPOINT / HF_HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "adaptfile", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "COLUMNS": "400", "NO_COLOR": "1"},
    )


def lock(root: Path) -> dict:
    return json.loads((root / "adapt.lock").read_text())


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
