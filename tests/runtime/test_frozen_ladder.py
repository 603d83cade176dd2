"""With a [goal], `adapt build --frozen` compares every rung's steps with adapt.lock before running any;
eval rows that repeat training examples are warned about by the build and listed in the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mini_project import FACTS

LEAKED = FACTS[2]  # "How do I turn the lamp on?": appended to the eval set as line 5


def adapt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=600, env=env)  # fmt: skip


def test_build_and_report_name_eval_rows_that_repeat_training_examples(
    mini_build: Path, tmp_path: Path
) -> None:
    root = tmp_path / "leaky"
    shutil.copytree(mini_build, root, symlinks=True)
    question, answer, source = LEAKED
    with (root / "data/eval.jsonl").open("a") as handle:
        handle.write(json.dumps({"question": question.upper(), "answer": answer, "source": source}) + "\n")
    done = adapt(root, "build")  # the eval steps and the report rerun; nothing is trained again
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run lora.train" not in done.stdout
    assert "warning: data/eval.jsonl: 1 eval row repeat a training example of data/train.jsonl" in done.stderr
    assert (
        "  data/eval.jsonl:5: same input as data/train.jsonl:3: 'HOW DO I TURN THE LAMP ON?'" in done.stderr
    )
    report = json.loads((root / "build/report/report.json").read_text())
    assert report["data"]["leakage"]["count"] == 1
    assert "Leakage: 1 eval rows of data/eval.jsonl" in (root / "build/report/report.md").read_text()
    strict = adapt(root, "build", "--strict")  # judged from the cached report: nothing reruns
    assert strict.returncode == 3 and "data/eval.jsonl:5" in strict.stderr
    assert not [line for line in strict.stdout.splitlines() if line.startswith("run ")]


def test_frozen_checks_the_last_rung_before_running_the_first(mini_build: Path, tmp_path: Path) -> None:
    """A CI clone (no .adapt/, no build/) would rebuild the first rounds, all matching adapt.lock; the
    last rung's LoRA changed. --frozen says so before the first round runs, instead of after it."""
    clone = tmp_path / "clone"
    shutil.copytree(mini_build, clone, ignore=shutil.ignore_patterns(".adapt", "build"))
    lock = (clone / "adapt.lock").read_bytes()
    assert "lora.train" in json.loads(lock)["steps"]
    toml = clone / "adapt.toml"
    toml.write_text(toml.read_text().replace("learning_rate = 5e-3", "learning_rate = 4e-3"))
    done = adapt(clone, "build", "--frozen")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "checked for every rung of the goal ladder before running anything" in done.stderr
    assert "step lora.train would change (params changed: lora.learning_rate" in done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("run ")]
    assert not (clone / ".adapt" / "cache").exists() and (clone / "adapt.lock").read_bytes() == lock
