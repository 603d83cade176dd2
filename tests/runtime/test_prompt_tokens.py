"""One prompt token count per question and variant: `adapt ask`, `--prompt-only` and eval agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mini_project import EVAL, run_adapt


def _json(root: Path, *args: str) -> dict:
    code, out, err = run_adapt(root, "ask", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def _evaluated(root: Path, variant: str, question: str) -> int:
    rows = [json.loads(line) for line in (root / f"build/eval.{variant}/predictions.jsonl").open()]
    return next(r["prompt_tokens"] for r in rows if r["question"] == question)


@pytest.mark.parametrize("variant", ["base", "icl", "icl+rag", "icl+rag+lora"])
def test_ask_prompt_only_and_eval_count_the_same_tokens(mini_build: Path, variant: str) -> None:
    question = EVAL[0][0]
    answered = _json(mini_build, "--variant", variant, question)
    shown = _json(mini_build, "--prompt-only", "--variant", variant, question)
    assert shown["variant"] == answered["variant"] == variant
    assert answered["prompt_tokens"] == shown["prompt_tokens"] == shown["tokens"]["total"]
    assert shown["prompt_tokens"] == _evaluated(mini_build, variant, question)


def test_prompt_only_shows_the_variant_ask_answers_with(mini_build: Path) -> None:
    question = EVAL[1][0]
    answered = _json(mini_build, question)
    shown = _json(mini_build, "--prompt-only", question)
    assert shown["variant"] == answered["variant"]
    assert shown["prompt_tokens"] == answered["prompt_tokens"]
    code, _, err = run_adapt(mini_build, "ask", "--prompt-only", question)
    assert code == 0 and f"-- {answered['variant']}: " in err
