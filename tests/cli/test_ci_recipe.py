"""The CI recipe of examples/ci/github-actions.yml, run locally: a developer builds and commits adapt.lock;
a fresh clone (no .adapt/, no build/) runs `adapt build --frozen` and must reproduce adapt.lock byte for
byte, then `adapt eval --require-goal` gates on the goal, and build/report/ holds what the workflow uploads.
A restored .adapt/cache (the workflow's actions/cache step) makes the frozen build run nothing.

Unmarked: the mini quickstart of tests/runtime, in-process. Slow: a copy of examples/quickstart, with the
real `python -m adaptfile` processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("sentence_transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from mini_project import run_adapt, write_mini_project

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
QUICKSTART = REPO / "examples" / "scratch"  # the tiny from-scratch project: fast
UPLOADED = ("report.md", "report.json", "goal.png")

Adapt = Callable[..., tuple[int, str, str]]  # (root, *args) -> (exit code, stdout, stderr)


def _subprocess_adapt(root: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _clone(project: Path, dest: Path, cache: bool = False) -> Path:
    """What `git clone` gives (adapt.lock committed; .adapt/ and build/ ignored), plus, with `cache`,
    the .adapt/cache that actions/cache restores."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".adapt", "build"))
    if cache:
        shutil.copytree(project / ".adapt" / "cache", dest / ".adapt" / "cache")
    return dest


def _ran(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("run ")]


def test_workflow_runs_the_commands_this_test_runs() -> None:
    text = WORKFLOW.read_text()
    assert "run: adapt build --frozen" in text and "run: adapt eval --require-goal" in text
    assert "path: .adapt/cache" in text and "path: build/report/" in text
    assert "run: adapt build --frozen --no-push" in text and "'adaptfile[ml,s3]'" in text  # the remote cache


def ci_recipe(project: Path, tmp: Path, adapt: Adapt, goal_met: bool | None) -> None:
    """The developer has built `project`; run the workflow's steps on clones of it."""
    lock = (project / "adapt.lock").read_bytes()

    clone = _clone(project, tmp / "clone")  # cold cache: every step reruns
    code, out, err = adapt(clone, "build", "--frozen")
    assert code == 0, out + err
    assert _ran(out), out
    assert (clone / "adapt.lock").read_bytes() == lock  # reproduced byte for byte
    code, out, err = adapt(clone, "eval", "--require-goal")
    if goal_met is not None:
        assert code == (0 if goal_met else 1), out + err
    assert code in (0, 1) and "best: " in out, out + err
    if code == 1:
        assert "--require-goal: no variant met the goal" in err
    for name in UPLOADED:
        assert (clone / "build" / "report" / name).is_file(), name
    assert (clone / "adapt.lock").read_bytes() == lock

    warm = _clone(project, tmp / "warm", cache=True)  # actions/cache restored .adapt/cache
    code, out, err = adapt(warm, "build", "--frozen")
    assert code == 0, out + err
    assert _ran(out) == [], out  # every step restored from the cache
    assert (warm / "adapt.lock").read_bytes() == lock


def test_ci_recipe_on_the_mini_project(tmp_path: Path) -> None:
    dev = write_mini_project(tmp_path / "dev", target=0.01)  # out of reach
    code, out, err = run_adapt(dev, "build")
    assert code == 0, out + err
    ci_recipe(dev, tmp_path / "unmet", run_adapt, goal_met=False)

    write_mini_project(dev, target=100.0)  # the developer relaxes the goal and commits the new lock
    code, out, err = run_adapt(dev, "build")
    assert code == 0, out + err
    ci_recipe(dev, tmp_path / "met", run_adapt, goal_met=True)


@pytest.mark.slow
def test_ci_recipe_on_the_quickstart(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    shutil.copytree(QUICKSTART, dev, ignore=shutil.ignore_patterns("build", ".adapt", "adapt.lock"))
    code, out, err = _subprocess_adapt(dev, "build")
    assert code == 0, out + err
    ci_recipe(dev, tmp_path / "ci", _subprocess_adapt, goal_met=None)
