"""`adapt eval`: the leaderboard from the cached eval steps, --json report object, escalation stops early."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mini_project import run_adapt


def test_eval_prints_the_leaderboard_without_rerunning(mini_build: Path) -> None:
    code, out, err = run_adapt(mini_build, "eval")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["variant", "answer_nll"]
    assert any(line.startswith("icl+rag+lora") for line in lines)
    assert "best: " in out and "Goal answer_nll" in out
    assert "run eval." not in err  # every variant came from the cache


def test_eval_json_is_the_report_object(mini_build: Path) -> None:
    code, out, _ = run_adapt(mini_build, "eval", "--json", "--no-build")
    assert code == 0
    report = json.loads(out)
    assert {"variants", "best", "goal"} <= set(report)
    assert {"name", "strategies", "metrics"} <= set(report["variants"][0])
    assert report["goal"]["metric"] == "answer_nll"


def test_eval_require_goal_exits_1_when_not_met(mini_build: Path) -> None:
    code, out, err = run_adapt(mini_build, "eval", "--require-goal", "--no-build")
    assert code == 1
    assert "best: " in out and "--require-goal" in err


def test_escalation_stops_at_the_first_rung_that_meets_the_goal(mini_build: Path, tmp_path: Path) -> None:
    root = tmp_path / "easy"
    shutil.copytree(mini_build, root, symlinks=True)
    toml = (root / "adapt.toml").read_text().replace("target = 0.01", "target = 100.0")
    (root / "adapt.toml").write_text(toml)
    shutil.rmtree(root / "build")  # only the cache remains: lora.train must not even be restored
    code, out, err = run_adapt(root, "build")
    assert code == 0, err
    assert "met by rung icl+rag" in out
    assert "run lora.train" not in out and "restored lora.train" not in out
    assert not (root / "build/lora.train").exists() and not (root / "build/eval.icl+rag+lora").exists()
    report = json.loads((root / "build/report/report.json").read_text())
    assert [v["name"] for v in report["variants"]] == ["base", "icl", "icl+rag"]
    assert (
        report["goal"] | {"met": True, "met_by": "icl+rag", "skipped_rungs": ["icl+rag+lora"]}
        == report["goal"]
    )
    code, out, _ = run_adapt(root, "build", "--require-goal")
    assert code == 0 and "up to date" in out


def test_force_reruns_a_step_once_across_rounds(mini_build: Path, tmp_path: Path) -> None:
    root = tmp_path / "forced"
    shutil.copytree(mini_build, root, symlinks=True)
    code, out, err = run_adapt(root, "build", "--force", "prompt.render")
    assert code == 0, err
    assert out.count("run prompt.render") == 1  # in both rounds' selection, forced only in the first
    assert "run eval." not in out  # same bytes: early cutoff keeps every evaluation
    code, _, err = run_adapt(root, "build", "--force", "no.such.step")
    assert code == 2 and "no such step" in err
