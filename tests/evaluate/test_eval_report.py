"""The report: best variant by the goal metric, which rung met the goal, markdown, chart."""

from __future__ import annotations

import json
from pathlib import Path

from adaptfile.cli.eval_cmd import leaderboard
from adaptfile.evaluate.report import goal_sentence, make_report, plot_goal, render_markdown, training_rows
from adaptfile.train.metrics import MIN_IMPROVEMENT, barely_learned


def _result(name: str, strategies: list[str], **metrics: float) -> dict:
    return {"variant": name, "strategies": strategies, "metrics": metrics}


RESULTS = [
    _result("base", [], exact_match=0.1, answer_nll=4.0),
    _result("icl", ["icl"], exact_match=0.5, answer_nll=3.0),
    _result("icl+lora", ["icl", "lora"], exact_match=0.4, answer_nll=2.0),
]


def test_best_by_the_goal_metric_and_the_first_rung_that_meets_it() -> None:
    report = make_report("qa", RESULTS, {"metric": "answer_nll", "target": 3.0}, ["icl", "icl+lora"], [])
    assert report["best"] == "icl+lora"  # lowest NLL
    goal = report["goal"]
    assert goal["met"] and goal["met_by"] == "icl"  # cheapest rung at or under 3.0
    assert goal["direction"] == "lower"
    assert goal_sentence(goal) == "Goal answer_nll ≤ 3: met by rung icl."


def test_without_a_goal_the_task_metric_ranks() -> None:
    report = make_report("qa", RESULTS, None, [], [])
    assert report["metric"] == "exact_match" and report["best"] == "icl" and report["goal"] is None


def test_a_tie_on_the_task_metric_falls_to_f1_then_answer_nll() -> None:
    tied = [
        _result("base", [], exact_match=0.0, f1=0.075, answer_nll=3.11),
        _result("icl+rag", ["icl", "rag"], exact_match=0.0, f1=0.141, answer_nll=1.56),
    ]
    report = make_report("qa", tied, None, [], [])
    assert report["best"] == "icl+rag" and report["decided_by"] == "f1"
    assert report["ranking"] == ["exact_match", "f1", "answer_nll"]
    assert "best: icl+rag (decided by f1, higher is better, after a tie on exact_match" in leaderboard(report)
    same_f1 = [{**r, "metrics": {**r["metrics"], "f1": 0.1}} for r in tied]
    report = make_report("qa", same_f1, None, [], [])
    assert report["best"] == "icl+rag" and report["decided_by"] == "answer_nll"
    assert (
        "(marked *; decided by answer_nll, lower is better, after a tie on exact_match, f1)"
        in render_markdown(report)
    )


def test_a_full_tie_goes_to_the_cheaper_variant_and_says_so() -> None:
    same = [_result(n, [], exact_match=0.0, f1=0.2, answer_nll=2.0) for n in ("base", "icl", "icl+rag")]
    report = make_report("qa", same, None, [], [])
    assert report["best"] == "base" and report["decided_by"] is None
    assert (
        "best: base (tied on exact_match, f1, answer_nll; a full tie goes to the cheaper variant"
        in leaderboard(report)
    )


def test_with_a_goal_the_goal_metric_ranks_first_then_the_task_metrics() -> None:
    tied = [_result("base", [], exact_match=0.2, f1=0.3, answer_nll=2.0),
            _result("icl", ["icl"], exact_match=0.5, f1=0.3, answer_nll=2.0)]  # fmt: skip
    report = make_report("qa", tied, {"metric": "answer_nll", "target": 1.0}, ["icl"], [])
    assert report["ranking"] == ["answer_nll", "exact_match", "f1"]
    assert report["best"] == "icl" and report["decided_by"] == "exact_match"


def test_goal_not_met_names_the_rungs_tried_and_skipped() -> None:
    report = make_report("qa", RESULTS[:2], {"metric": "exact_match", "target": 0.9}, ["icl", "icl+lora"], [])
    goal = report["goal"]
    assert not goal["met"] and goal["evaluated_rungs"] == ["icl"] and goal["skipped_rungs"] == ["icl+lora"]
    assert "not met" in goal_sentence(goal)


def test_markdown_and_chart(tmp_path: Path) -> None:
    train = tmp_path / "lora.train"
    train.mkdir()
    measured = {"peak_memory_gb": 0.5, "wall_seconds": 9.0, "step_seconds": 12.0, "eval_loss_start": 3.0,
                "eval_loss": 2.0, "estimated_memory_gb": 0.45}  # fmt: skip
    (train / "metrics.json").write_text(json.dumps(measured))
    rows = training_rows({"lora": {"memory_gb": 0.4, "wall_hours": 0.005}}, {"lora.train": train})
    assert rows[0]["estimate"] == {"memory_gb": 0.4, "preflight_memory_gb": 0.45, "wall_seconds": 18.0}
    report = make_report("qa", RESULTS, {"metric": "answer_nll", "target": 1.0}, ["icl", "icl+lora"], rows)
    text = render_markdown(report)
    assert "| icl+lora * |" in text and "Best variant: **icl+lora**" in text
    assert "| lora | 0.4 | 0.45 | 0.5 | 18 | 12 | 3 → 2 |" in text
    plot_goal(report, tmp_path / "goal.png")
    assert (tmp_path / "goal.png").read_bytes()[:4] == b"\x89PNG"


def test_a_training_that_barely_lowered_the_loss_warns_in_the_report(tmp_path: Path) -> None:
    for method, start, end in (("pretrain", 7.636, 7.57), ("lora", 3.0, 2.0)):
        (tmp_path / f"{method}.train").mkdir()
        metrics = {"eval_loss_start": start, "eval_loss": end, "wall_seconds": 1.0}
        (tmp_path / f"{method}.train" / "metrics.json").write_text(json.dumps(metrics))
    rows = training_rows({}, {f"{m}.train": tmp_path / f"{m}.train" for m in ("pretrain", "lora")})
    warnings = {r["method"]: r["warning"] for r in rows}
    assert warnings["lora"] is None  # 3 → 2 learned
    assert warnings["pretrain"].startswith("pretrain: the model barely learned: eval loss 7.64 → 7.57 (-0.9%")
    assert (
        "less than 5%" in warnings["pretrain"]
        and "more epochs or a higher learning rate" in warnings["pretrain"]
    )
    text = render_markdown(make_report("qa", RESULTS, None, [], rows))
    assert f"**Warning**: {warnings['pretrain']}." in text and text.count("**Warning**") == 1


def test_the_barely_learned_threshold_is_a_fraction_of_the_start() -> None:
    assert barely_learned(2.0, 1.91) is not None  # 4.5% lower
    assert barely_learned(2.0, 1.89) is None  # 5.5% lower
    assert barely_learned(2.0, 2.2) is not None  # rose
    assert barely_learned(None, 1.0) is None and MIN_IMPROVEMENT == 0.05
