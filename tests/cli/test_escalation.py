"""Goal-driven escalation order and the plan's variants, on the quickstart plan (no ML imports)."""

from __future__ import annotations

from pathlib import Path

from adaptfile.config import load_project
from adaptfile.evaluate.ladder import rounds
from adaptfile.plan import plan_project, plan_to_json

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def test_unconditional_variants_first_then_one_conditional_rung_per_round() -> None:
    plan = plan_project(load_project(QUICKSTART))
    assert plan.ladder == ("icl+rag", "icl+rag+lora")
    assert rounds(plan) == [["eval.base", "eval.icl", "eval.icl+rag"], ["eval.icl+rag+lora"]]


def test_plan_json_lists_variants_with_their_steps() -> None:
    data = plan_to_json(plan_project(load_project(QUICKSTART)))
    by_name = {v["name"]: v for v in data["variants"]}
    assert by_name["icl+rag+lora"]["steps"][-1] == "lora.train"
    assert by_name["icl+rag+lora"]["conditional"] is True
    assert by_name["icl+rag"]["rung"] is True and by_name["base"]["rung"] is False
    kinds = {s["id"]: s["kind"] for s in data["steps"]}
    assert kinds["eval.icl+rag+lora"] == "eval.variant" and kinds["report"] == "eval.report"
