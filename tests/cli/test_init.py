"""`adapt init` writes a valid, commented project and never overwrites."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from adaptfile.config import load_project
from adaptfile.scaffold import init_project

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("task", ["qa", "classify", "extract", "summarize", "chat", "generate"])
def test_init_writes_a_valid_config_for_every_task(tmp_path: Path, task: str) -> None:
    written = init_project(tmp_path / "proj", task)
    project = load_project(tmp_path / "proj")
    assert project.config.project.task == task
    assert project.config.project.name == "proj"
    assert (tmp_path / "proj" / "templates" / f"{task}.j2").is_file()
    assert (tmp_path / "proj" / ".gitignore") in written


def test_init_refuses_to_overwrite(tmp_path: Path, adapt: Runner) -> None:
    first = adapt("init", "--task", "classify", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "adapt.toml").read_bytes()
    again = adapt("init", cwd=tmp_path)
    assert again.returncode == 3
    assert "already exists" in again.stderr
    assert (tmp_path / "adapt.toml").read_bytes() == before


def test_init_then_plan_works(tmp_path: Path, adapt: Runner) -> None:
    assert adapt("-C", str(tmp_path), "init").returncode == 0
    done = adapt("-C", str(tmp_path), "plan")
    assert done.returncode == 0, done.stderr
    assert "icl" in done.stdout


def test_gitignore_lines_are_appended_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.adapt/\n")
    init_project(tmp_path, "qa")
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.adapt/\n# adaptfile\nbuild/\n"
