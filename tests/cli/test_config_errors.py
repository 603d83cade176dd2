"""Config errors reach the user as located messages with exit code 3, never a traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]


BROKEN = """[project]
name = "demo"
tsk = "qa"

[model]
base = "Qwen/Qwen2.5-0.5B-Instruct"

[rag]
top_k = 0
"""


def test_broken_config_exits_3_with_every_problem(tmp_path: Path, adapt: Runner) -> None:
    (tmp_path / "adapt.toml").write_text(BROKEN)
    done = adapt("-C", str(tmp_path), "plan")
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert "2 problems" in done.stderr
    assert "adapt.toml:3: project.tsk: unknown key 'tsk'; did you mean 'task'?" in done.stderr
    assert "adapt.toml:9: rag.top_k: Input should be greater than or equal to 1 (got 0)" in done.stderr


def test_syntax_error_shows_file_line_column(tmp_path: Path, adapt: Runner) -> None:
    (tmp_path / "adapt.toml").write_text('[project]\nname = "demo\n')
    done = adapt("-C", str(tmp_path), "plan")
    assert done.returncode == 3
    assert f"{tmp_path / 'adapt.toml'}:2:" in done.stderr
    assert "TOML syntax error" in done.stderr


def test_missing_config_suggests_init(tmp_path: Path, adapt: Runner) -> None:
    done = adapt("plan", cwd=tmp_path)
    assert done.returncode == 3
    assert "no adapt.toml in" in done.stderr
    assert "adapt init" in done.stderr
    assert "Traceback" not in done.stderr


def test_file_option_and_debug_traceback(tmp_path: Path, adapt: Runner) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(BROKEN)
    assert adapt("--file", str(config), "plan").returncode == 3
    debug = adapt("--debug", "--file", str(config), "plan")
    assert "Traceback" in debug.stderr


def test_usage_error_exits_2(adapt: Runner) -> None:
    done = adapt("plan", "--no-such-flag")
    assert done.returncode == 2
    assert "no such option" in done.stderr.lower()


def test_every_command_has_help_with_an_example(adapt: Runner) -> None:
    listing = adapt("--help")
    assert listing.returncode == 0
    section = listing.stdout.split("Commands:")[1].split("\n\n")[0]
    commands = [line.split()[0] for line in section.splitlines() if line.strip()]
    assert {"init", "plan", "schema"} <= set(commands)
    for name in commands:
        page = adapt(name, "--help")
        assert page.returncode == 0, name
        assert "Example" in page.stdout, name
