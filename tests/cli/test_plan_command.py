"""`adapt plan` on the shipped examples: the decisions PLANNER.md calls for, stable JSON."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDER = ["icl", "rag", "lora", "qlora", "prefix", "full", "cpt", "pretrain", "embedder"]

EXPECTED = {
    # a real pretrained model (GGUF) on CPU: ICL baseline, RAG for a changing cited corpus, LoRA as the
    # conditional rung of the goal ladder; no pre-training.
    "quickstart": {
        "icl": "chosen",
        "rag": "chosen",
        "lora": "chosen",
        "full": "rejected",
        "pretrain": "rejected",
    },
    # scratch model on CPU: the same, with a from-scratch model.
    "scratch": {
        "icl": "chosen",
        "rag": "chosen",
        "lora": "chosen",
        "full": "rejected",
        "pretrain": "chosen",
    },
    # hub model, docs that need citations, only a handful of examples: no fine-tuning.
    "support-rag": {
        "icl": "chosen",
        "rag": "chosen",
        "lora": "rejected",
        "cpt": "rejected",
        "pretrain": "rejected",
    },
    # classification with hundreds of examples on an A10G: LoRA, no corpus so no RAG.
    "intent-classifier": {"icl": "chosen", "rag": "not_needed", "lora": "chosen", "qlora": "not_needed"},
}


def plan_json(adapt: Runner, example: str) -> tuple[str, dict]:
    done = adapt("-C", str(EXAMPLES / example), "plan", "--json")
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stdout)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_examples_get_the_planned_strategies(adapt: Runner, example: str) -> None:
    _, plan = plan_json(adapt, example)
    assert [s["name"] for s in plan["strategies"]] == ORDER
    decisions = {s["name"]: s["decision"] for s in plan["strategies"]}
    for name, decision in EXPECTED[example].items():
        assert decisions[name] == decision, (name, plan["strategies"][ORDER.index(name)]["reason"])
    for strategy in plan["strategies"]:
        assert strategy["reason"]
    assert {"id", "kind", "deps"} <= set(plan["steps"][0])


def test_plan_json_is_byte_identical_across_runs(adapt: Runner) -> None:
    first, _ = plan_json(adapt, "quickstart")
    second, _ = plan_json(adapt, "quickstart")
    assert first == second


def test_plan_table_shows_reasons_estimates_and_steps(adapt: Runner) -> None:
    done = adapt("-C", str(EXAMPLES / "quickstart"), "plan")
    assert done.returncode == 0, done.stderr
    for text in ("data profile", "strategies", "build steps", "[goal]", "rag.index", " h, $"):
        assert text in done.stdout, text
    assert "GPU-h" not in done.stdout  # training on the CPU: device hours, not GPU hours


def test_impossible_include_is_a_plan_error(tmp_path: Path, adapt: Runner) -> None:
    (tmp_path / "adapt.toml").write_text(
        '[project]\nname = "x"\n[model]\nbase = "Qwen/Qwen2.5-7B"\n[strategy]\ninclude = ["qlora"]\n'
    )
    done = adapt("-C", str(tmp_path), "plan")
    assert done.returncode == 3
    assert "qlora" in done.stderr
    assert "Traceback" not in done.stderr
