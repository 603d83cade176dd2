"""`adapt init --scratch` writes a project whose pre-training learns: held-out loss well below uniform guessing."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]
PAGES = Path(__file__).resolve().parents[2] / "examples" / "scratch" / "docs"
VOCAB = 2048  # [model.scratch] vocab_size in the scaffold: uniform guessing scores ln(2048) ≈ 7.62
MARGIN = 1.0  # nats below uniform guessing the held-out loss must reach (the defaults stay within 0.1)


def _init_with_pages(root: Path, adapt: Runner, pages: list[Path]) -> None:
    done = adapt("-C", str(root), "init", "--scratch")
    assert done.returncode == 0, done.stderr
    for page in pages:
        shutil.copy(page, root / "docs" / page.name)


def _pretrained_loss(root: Path, adapt: Runner) -> tuple[float, float]:
    done = adapt("-C", str(root), "build", "pretrain.train")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "barely learned" not in done.stdout + done.stderr
    metrics = json.loads((root / "build/pretrain.train/metrics.json").read_text())
    return metrics["eval_loss_start"], metrics["eval_loss"]


def test_scratch_init_plans_with_prompts_that_fit(tmp_path: Path, adapt: Runner) -> None:
    _init_with_pages(tmp_path, adapt, [])
    plan = adapt("-C", str(tmp_path), "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    settings = json.loads(plan.stdout)["settings"]
    assert settings["pretrain"]["epochs"] == 20 and settings["pretrain"]["batch_size"] == 2
    assert not [w for w in json.loads(plan.stdout)["warnings"] if "budget" in w]


def test_scratch_init_pretraining_learns_on_three_pages(tmp_path: Path, adapt: Runner) -> None:
    _init_with_pages(tmp_path, adapt, sorted(PAGES.glob("*.md"))[:3])
    start, end = _pretrained_loss(tmp_path, adapt)
    assert start > math.log(VOCAB) - 0.1  # an untrained model guesses uniformly
    assert end < math.log(VOCAB) - MARGIN


@pytest.mark.slow
def test_scratch_init_pretraining_learns_on_ten_pages(tmp_path: Path, adapt: Runner) -> None:
    _init_with_pages(tmp_path, adapt, sorted(PAGES.glob("*.md")))
    start, end = _pretrained_loss(tmp_path, adapt)
    assert start > math.log(VOCAB) - 0.1
    assert end < math.log(VOCAB) - 2 * MARGIN
