"""A training step whose eval loss hardly moved warns in the build output (and report.md, see tests/evaluate)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]

TOML = """
[project]
name = "still"
task = "qa"

[model]
base = "scratch"

[model.scratch]
layers = 1
hidden = 32
heads = 2
vocab_size = 512
context = 256

[data.knowledge]
paths = ["docs/*.md"]

[data.examples]
path = "data/train.jsonl"

[hardware.train]
device = "cpu"

[pretrain]
epochs = 1
learning_rate = {lr}
"""


def test_a_pretraining_that_does_not_move_the_loss_warns_in_the_build(tmp_path: Path, adapt: Runner) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "adapt.toml").write_text(TOML.format(lr="1e-7"))
    (tmp_path / "docs" / "lamp.md").write_text(
        "# Lamp\n\nHold the button for five seconds to reset it.\n" * 20
    )
    rows = [{"question": f"How do I reset lamp {i}?", "answer": "Hold the button."} for i in range(6)]
    (tmp_path / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = adapt("-C", str(tmp_path), "build", "pretrain.train")
    assert done.returncode == 0, done.stdout + done.stderr
    measured = json.loads((tmp_path / "build/pretrain.train/metrics.json").read_text())
    start, end = measured["eval_loss_start"], measured["eval_loss"]
    assert (start - end) / start < 0.05
    assert (
        f"pretrain: the model barely learned: eval loss {start:.2f} → {end:.2f}" in done.stdout + done.stderr
    )
