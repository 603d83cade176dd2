"""Rule 2b: the domain-tuned embedder, chosen when RAG is and enough examples name their gold document."""

from __future__ import annotations

from dataclasses import replace

import pytest
from plan_worlds import decision, profile, toml

from adaptfile.errors import PlanError
from adaptfile.plan.dag import BASE_INDEX
from adaptfile.plan.embedder import MIN_SOURCED_EXAMPLES

SMALL = "Qwen/Qwen2.5-0.5B-Instruct"
RAG = '[data.knowledge]\npaths = ["docs/*.md"]\n[data.examples]\npath = "data/train.jsonl"\n'
GOAL = RAG + '[data.eval]\npath = "data/eval.jsonl"\n[goal]\nmetric = "f1"\ntarget = 0.8\n'


def sourced(rows: int, with_source: int, unknown: dict[str, int] | None = None, eval_rows: int | None = None):
    data = profile(rows, knowledge=1_000_000, eval_rows=eval_rows)
    return replace(
        data, examples=replace(data.examples, with_source=with_source), unknown_sources=unknown or {}
    )


def test_chosen_with_enough_sourced_examples_with_reason_and_cost(plan) -> None:
    result = plan(toml(RAG, base=SMALL), sourced(300, 200))
    tuned = decision(result, "embedder")
    assert tuned.decision == "chosen" and "200 examples name their gold document" in tuned.reason
    assert tuned.estimate["pairs"] == 200 and tuned.estimate["wall_minutes"] > 0
    steps = {s.id: s for s in result.steps}
    assert steps["rag.embedder"].deps == ("knowledge.chunk", "examples.load")
    assert steps["rag.index"].deps == ("knowledge.chunk", "rag.embedder")
    assert BASE_INDEX not in steps  # nothing measures the untuned index without a goal or eval set
    ids = [s.id for s in result.steps]
    assert all(ids.index(dep) < ids.index(s.id) for s in result.steps for dep in s.deps)


def test_not_needed_below_the_threshold_or_without_rag(plan) -> None:
    few = decision(plan(toml(RAG, base=SMALL), sourced(300, MIN_SOURCED_EXAMPLES - 1)), "embedder")
    assert few.decision == "not_needed" and f"≥ {MIN_SOURCED_EXAMPLES}" in few.reason
    none = decision(plan(toml("", base=SMALL), profile(300)), "embedder")
    assert none.decision == "not_needed" and "RAG is not chosen" in none.reason


def test_excluded_by_strategy_exclude(plan) -> None:
    result = plan(toml(RAG + '[strategy]\nexclude = ["embedder"]\n', base=SMALL), sourced(300, 200))
    assert decision(result, "embedder").decision == "rejected"
    assert "rag.embedder" not in {s.id for s in result.steps}


def test_unknown_sources_are_counted_and_listed_and_the_rest_tunes(plan) -> None:
    unknown = {"docs/gone.md": 3, "nowhere.txt": 1}
    result = plan(toml(RAG, base=SMALL), sourced(300, 40, unknown))
    tuned = decision(result, "embedder")
    assert tuned.decision == "chosen" and tuned.estimate["pairs"] == 36
    warning = next(w for w in result.warnings if "no [data.knowledge] document" in w)
    assert "4 rows" in warning and "'docs/gone.md' (3)" in warning and "'nowhere.txt' (1)" in warning
    short = decision(plan(toml(RAG, base=SMALL), sourced(300, 34, unknown)), "embedder")
    assert short.decision == "not_needed"  # 30 usable rows


def test_goal_ladder_tries_the_tuned_embedder_before_fine_tuning(plan) -> None:
    result = plan(toml(GOAL, base=SMALL), sourced(300, 200, eval_rows=100))
    assert result.ladder[:3] == ("icl", "icl+rag", "icl+rag(tuned)")
    assert all("(tuned)" not in rung for rung in result.ladder[3:])
    variants = {v.name: v for v in result.variants}
    assert BASE_INDEX in variants["icl+rag"].steps and "rag.index" not in variants["icl+rag"].steps
    assert "rag.index" in variants["icl+rag(tuned)"].steps
    assert decision(result, "embedder").conditional
    evals = {s.id for s in result.steps if s.kind == "eval.variant"}
    assert {"eval.icl+rag", "eval.icl+rag(tuned)"} <= evals  # hit rate and MRR for both embedders


def test_include_without_sourced_examples_is_a_plan_error(plan) -> None:
    with pytest.raises(PlanError, match=r"strategy\.include has 'embedder'"):
        plan(toml(RAG + '[strategy]\ninclude = ["embedder"]\n', base=SMALL), sourced(300, 0))
