"""The no-op stamp: a second `adapt build` with nothing changed answers from it (same output, no planner
imported); any change to a file, a flag or the environment runs the full build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptfile.noop import STAMP, project_root, unwalked

TOML = """[project]
name = "noop"

[model]
base = "scratch"

[model.scratch]
layers = 1
hidden = 16
heads = 1
vocab_size = 256
context = 64

[data.knowledge]
paths = ["docs/**/*.md"]

[strategy]
exclude = ["rag"]

[pretrain]
epochs = 0.01
"""

# the console entry point as the `adapt` script calls it (main() reads sys.argv), reporting afterwards
# whether the planner's libraries were imported
PROBE = """
import json, sys
sys.argv = ["adapt", *sys.argv[1:]]
from adaptfile.cli import main
try:
    main()
except SystemExit as done:
    code = done.code
planned = sorted({"pydantic", "click"} & {name.split(".")[0] for name in sys.modules})
print("PROBE=" + json.dumps({"code": code, "planned": planned}), file=sys.stderr)
"""


def adapt(root: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    lines = done.stderr.splitlines()
    marker = [line for line in lines if line.startswith("PROBE=")]
    assert marker, done.stdout + done.stderr
    err = "\n".join(line for line in lines if not line.startswith("PROBE="))
    return {**json.loads(marker[-1].removeprefix("PROBE=")), "out": done.stdout, "err": err}


def age(root: Path, seconds: float = 60) -> None:
    """Move every mtime under `root` into the past, as if the files were written a minute ago."""
    past = time.time() - seconds
    for directory, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(directory, name), (past, past))
    for directory, _, _ in sorted(os.walk(root), key=lambda d: -len(d[0])):
        os.utime(directory, (past, past))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("noop")
    (root / "docs").mkdir()
    for i in range(3):
        (root / "docs" / f"page{i}.md").write_text(f"# Page {i}\n\nThe router resets after {i} seconds.\n")
    (root / "adapt.toml").write_text(TOML)
    first = adapt(root, "build")
    assert first["code"] == 0, first
    return root


@pytest.fixture
def stamped(built: Path) -> Path:
    """The project after a full no-op build that wrote its stamp."""
    age(built)
    slow = adapt(built, "build")
    assert slow["code"] == 0 and "up to date" in slow["out"], slow
    assert slow["planned"] == ["click", "pydantic"]
    assert (built / STAMP).is_file()
    return built


def test_a_no_op_answers_from_its_stamp_with_the_same_output(stamped: Path) -> None:
    slow = adapt(stamped, "build", env={"ADAPT_NOOP_TEST": "1"})  # another environment: the full build
    assert slow["planned"] == ["click", "pydantic"]
    fast = adapt(stamped, "build", env={"ADAPT_NOOP_TEST": "1"})
    assert fast["code"] == 0
    assert fast["planned"] == []
    assert (fast["out"], fast["err"]) == (slow["out"], slow["err"])


def test_another_tool_s_hidden_directory_changes_nothing(stamped: Path) -> None:
    adapt(stamped, "build")  # records the stamp again after the fixture's run
    (stamped / ".dvc" / "tmp").mkdir(parents=True, exist_ok=True)
    (stamped / ".dvc" / "tmp" / "rwlock").write_text("{}")
    assert adapt(stamped, "build")["planned"] == []


def test_inputs_outside_the_walk_are_walked_on_their_own() -> None:
    read_from = ["/p", "/p/docs", "/p/.hidden/docs", "/elsewhere/docs", "/pp"]
    assert unwalked("/p", read_from) == ["/elsewhere/docs", "/p/.hidden/docs", "/pp"]


def test_json_output_is_stamped_apart(stamped: Path) -> None:
    slow = adapt(stamped, "build", "--json")
    fast = adapt(stamped, "build", "--json")
    assert slow["planned"] and not fast["planned"]
    assert fast["out"] == slow["out"]
    assert json.loads(fast["out"].splitlines()[-1])["event"] == "build_finished"


def test_an_edited_input_runs_the_full_build(stamped: Path) -> None:
    page = stamped / "docs" / "page0.md"
    page.write_text(page.read_text() + "Edited.\n")
    age(stamped / "docs")  # an old mtime too: the stat still differs (size, ctime)
    done = adapt(stamped, "build")
    assert done["planned"] and "run knowledge.load" in done["out"]


def test_an_added_file_runs_the_full_build(stamped: Path) -> None:
    (stamped / "docs" / "new.md").write_text("# New\n\nA new page.\n")
    age(stamped / "docs")
    done = adapt(stamped, "build")
    assert done["planned"] and "run knowledge.load" in done["out"]


def test_a_removed_output_is_built_again(stamped: Path) -> None:
    output = next(p for p in (stamped / "build" / "knowledge.load").rglob("*") if p.is_file())
    output.unlink()
    done = adapt(stamped, "build")
    assert done["planned"] and "knowledge.load" in done["out"] and "up to date" not in done["out"]


def test_a_recent_change_writes_no_stamp(built: Path) -> None:
    age(built)
    (built / "docs" / "page1.md").touch()  # changed just now: its mtime cannot prove it unchanged later
    done = adapt(built, "build")
    assert done["code"] == 0 and "up to date" in done["out"]
    assert not (built / STAMP).exists()


def test_the_stamp_is_taken_only_for_build_command_lines(tmp_path: Path) -> None:
    assert project_root(["build"]) == os.path.abspath(os.curdir)
    assert project_root(["-C", str(tmp_path), "--debug", "build", "--json"]) == str(tmp_path)
    assert project_root(["--file", str(tmp_path / "x" / "adapt.toml"), "build"]) == str(tmp_path / "x")
    assert project_root(["plan"]) is None
    assert project_root(["--unknown", "build"]) is None
