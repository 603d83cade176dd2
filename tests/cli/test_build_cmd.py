"""`adapt build / status / clean / gc` through the real CLI, with a stand-in planner and trivial kinds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import adaptfile.plan
from adaptfile.cli import main
from adaptfile.plan.model import Plan, StepSpec, StrategyDecision

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"
sys.path.insert(0, str(ENGINE_TESTS))

from engine_kinds import register_kinds  # noqa: E402

TOML = """[project]
name = "demo"
seed = 0

[model]
base = "scratch"
revision = "main"
"""
REFORMATTED = """# the same configuration, reformatted
[model]
revision   =   "main"
base = "scratch"

[project]
seed = 0
name = "demo"   # comment
"""


def fake_plan(project, pins=None) -> Plan:
    """Two steps whose params come from adapt.toml, like the real planner's."""
    config = project.config
    steps = (
        StepSpec(
            "docs.concat", "test.concat", params={"project.seed": config.project.seed}, inputs=("docs/*.md",)
        ),
        StepSpec("docs.upper", "test.upper", deps=("docs.concat",), params={"upper.mode": "upper"}),
    )
    if config.project.name == "broken":
        steps = (*steps, StepSpec("broken", "test.fail", deps=("docs.concat",)))
    if config.project.name == "unknown":
        steps = (*steps, StepSpec("thirdparty.step", "no.such.kind", deps=("docs.concat",)))
    return Plan(config.project.name, (StrategyDecision("rag", "chosen", "test"),), (), steps)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(adaptfile.plan, "plan_project", fake_plan, raising=False)
    register_kinds()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/a.md").write_text("alpha\n")
    (tmp_path / "adapt.toml").write_text(TOML)
    return tmp_path


def adapt(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["-C", str(root), *args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def test_build_twice_then_up_to_date(demo: Path, capsys) -> None:
    code, out, _ = adapt(demo, capsys, "build")
    assert code == 0 and "run docs.concat (not built)" in out
    code, out, _ = adapt(demo, capsys, "build")
    assert code == 0 and "up to date" in out
    lock = json.loads((demo / "adapt.lock").read_text())
    assert lock["strategies"] == ["rag"] and lock["model"] == {"base": "scratch", "revision": "main"}


def test_reformatted_adapt_toml_rebuilds_nothing(demo: Path, capsys) -> None:
    adapt(demo, capsys, "build")
    (demo / "adapt.toml").write_text(REFORMATTED)
    code, out, _ = adapt(demo, capsys, "build")
    assert code == 0 and "up to date" in out


def test_status_names_the_changed_param_and_check_fails(demo: Path, capsys) -> None:
    adapt(demo, capsys, "build")
    assert adapt(demo, capsys, "status", "--check")[0] == 0
    (demo / "adapt.toml").write_text(TOML.replace("seed = 0", "seed = 1"))
    code, out, _ = adapt(demo, capsys, "status")
    assert code == 0
    assert "stale  docs.concat: params changed: project.seed 0→1" in out
    assert "stale  docs.upper: upstream stale: docs.concat" in out
    code, out, err = adapt(demo, capsys, "status", "--check", "--json")
    assert code == 1 and "stale" in err
    document = json.loads(out)
    assert document["stale"] == 2
    assert document["steps"][0]["reasons"] == ["params changed: project.seed 0→1"]


def test_dry_run_runs_nothing(demo: Path, capsys) -> None:
    code, out, _ = adapt(demo, capsys, "build", "-n")
    assert code == 0 and "run      docs.concat: not built" in out
    assert not (demo / ".adapt" / "cache").exists()


def test_frozen_exits_1_when_the_lock_would_change(demo: Path, capsys) -> None:
    adapt(demo, capsys, "build")
    assert adapt(demo, capsys, "build", "--frozen")[0] == 0
    (demo / "docs/a.md").write_text("changed\n")
    code, _, err = adapt(demo, capsys, "build", "--frozen")
    assert code == 1 and "input modified: docs/a.md" in err


def test_json_event_stream(demo: Path, capsys) -> None:
    code, out, _ = adapt(demo, capsys, "build", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert events[0] == {"event": "build_started", "total": 2}
    assert events[-1]["event"] == "build_finished" and events[-1]["ok"] is True


def test_failed_step_exits_1_with_step_and_log(demo: Path, capsys) -> None:
    (demo / "adapt.toml").write_text(TOML.replace('"demo"', '"broken"'))
    code, _, err = adapt(demo, capsys, "build")
    assert code == 1
    assert "step broken failed: RuntimeError: boom" in err and ".adapt/logs/broken.log" in err


def test_unknown_kind_exits_3_before_running(demo: Path, capsys) -> None:
    (demo / "adapt.toml").write_text(TOML.replace('"demo"', '"unknown"'))
    code, _, err = adapt(demo, capsys, "build")
    assert code == 3 and "no.such.kind" in err
    assert not (demo / ".adapt" / "cache").exists()


def test_clean_and_gc(demo: Path, capsys) -> None:
    adapt(demo, capsys, "build")
    code, out, _ = adapt(demo, capsys, "clean")
    assert code == 0 and not (demo / "build").exists()
    (demo / "adapt.toml").write_text(TOML.replace("seed = 0", "seed = 1"))
    adapt(demo, capsys, "build")
    code, out, _ = adapt(demo, capsys, "gc", "--keep", "0", "--dry-run")
    assert code == 0 and out.startswith("would remove 1 cache entries")
    code, out, _ = adapt(demo, capsys, "gc", "--keep", "0", "--json")
    assert code == 0 and json.loads(out)["bytes_freed"] > 0
    code, out, _ = adapt(demo, capsys, "build")
    assert "up to date" in out


PROBE = """
import json, sys
sys.path.insert(0, {engine!r})
import adaptfile.plan
from adaptfile.plan.model import Plan, StepSpec
from engine_kinds import register_kinds
register_kinds()
adaptfile.plan.plan_project = lambda project, pins=None: Plan("demo", (), (), (
    StepSpec("docs.concat", "test.concat", inputs=("docs/*.md",)),))
from adaptfile.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "transformers", "peft", "llama_index",
    "sentence_transformers", "numpy"}})
print("IMPORTED=" + json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def test_noop_cli_build_imports_no_ml_library(demo: Path) -> None:
    probe = PROBE.format(engine=str(ENGINE_TESTS))
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe, "-C", str(demo), "build"],
            capture_output=True, text=True, timeout=120, env={**os.environ},
        )  # fmt: skip
        marker = [line for line in done.stderr.splitlines() if line.startswith("IMPORTED=")]
        assert marker, done.stderr
        assert json.loads(marker[-1].removeprefix("IMPORTED=")) == {"code": 0, "heavy": []}
    assert "up to date" in done.stdout
