"""One exit code per situation, whatever the command (docs/errors.md): the real `adapt`, command by command."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from adaptfile.errors import EXIT_CONFIG, EXIT_USAGE

Runner = Callable[..., subprocess.CompletedProcess[str]]

TOML = """
[project]
name = "codes"
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
{extra}
[hardware.train]
device = "cpu"
"""

ROW = '{{"question": "How do I reset lamp {i}?", "answer": "Hold the button for five seconds."}}\n'


def _project(root: Path, extra: str = "") -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "adapt.toml").write_text(TOML.format(extra=extra), encoding="utf-8")
    (root / "docs" / "lamp.md").write_text("# Lamp\n\nHold the button for five seconds to reset it.\n")
    rows = "".join(ROW.format(i=i) for i in range(6))
    (root / "data" / "train.jsonl").write_text(rows, encoding="utf-8")
    (root / "data" / "eval.jsonl").write_text(rows, encoding="utf-8")
    return root


READERS = [  # every command that reads what `adapt build` wrote
    ["ask", "how do I reset it?"],
    ["ask", "--retrieve-only", "how do I reset it?"],
    ["ask", "--prompt-only", "how do I reset it?"],
    ["ask", "--prompt-only", "--variant", "icl", "how do I reset it?"],
    ["eval", "--no-build"],
    ["serve", "--port", "0"],
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_nothing_built_yet_is_a_usage_error_that_says_build_first(
    tmp_path: Path, adapt: Runner, args: list[str]
) -> None:
    root = _project(tmp_path, '[data.eval]\npath = "data/eval.jsonl"\n')
    done = adapt("-C", str(root), *args)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert (
        done.stderr.startswith("error: ") and "adapt build" in done.stderr and "Traceback" not in done.stderr
    )


@pytest.mark.parametrize(
    "args",
    [["plan"], ["build", "-n"], ["status"], ["eval"], ["cache", "status"], *READERS],
    ids=" ".join,
)
def test_no_adapt_toml_is_exit_3_everywhere(tmp_path: Path, adapt: Runner, args: list[str]) -> None:
    done = adapt("-C", str(tmp_path), *args)
    assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr
    assert "no adapt.toml" in done.stderr and "adapt init" in done.stderr


@pytest.mark.parametrize(
    ("args", "table"),
    [
        (["eval"], "[data.eval]"),
        (["eval", "--no-build"], "[data.eval]"),
        (["cache", "status"], "[cache] remote"),
    ],
)
def test_a_table_the_command_needs_is_missing_is_exit_3(
    tmp_path: Path, adapt: Runner, args: list[str], table: str
) -> None:
    done = adapt("-C", str(_project(tmp_path)), *args)
    assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr
    assert table in done.stderr and "adapt.toml" in done.stderr


@pytest.mark.parametrize(
    "command", ["ask", "build", "cache", "clean", "eval", "gc", "init", "plan", "serve", "status"]
)
def test_a_bad_option_is_exit_2(tmp_path: Path, adapt: Runner, command: str) -> None:
    done = adapt("-C", str(tmp_path), command, "--no-such-option")
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert "No such option" in done.stderr
