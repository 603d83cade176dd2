"""Token counts per part and fitting shots into the prompt budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adaptfile.prompt import Passage, Shot, load_template
from adaptfile.prompt.budget import count_tokens, fit_shots, measure, prompt_limit

SHOTS = [Shot(f"question number {i} " + "word " * 20, f"answer {i}") for i in range(6)]


def test_count_tokens_uses_the_tokenizer_or_estimates(plain_tokenizer: Any) -> None:
    text = "Question: what is the answer?"
    assert count_tokens(text, None) == -(-len(text) // 4)
    assert count_tokens(text, plain_tokenizer) == len(plain_tokenizer.encode(text, add_special_tokens=False))


def test_measure_splits_the_prompt_into_parts(tmp_path: Path, plain_tokenizer: Any) -> None:
    template = load_template(tmp_path, "qa", None)
    tokens = measure(template, instruction="Be brief.", shots=SHOTS[:2], question="Why?", tokenizer=plain_tokenizer,
                     context_budget=100)  # fmt: skip
    assert tokens.shots > 0 and tokens.context == 100 and tokens.question > 0 and tokens.instruction > 0
    assert tokens.total > tokens.shots + tokens.context + tokens.question + tokens.instruction - 1
    with_context = measure(template, instruction="", shots=[], question="Why?", tokenizer=None,
                           context=[Passage("a.md", 0, 400, "x" * 400)])  # fmt: skip
    assert with_context.context >= 100


def test_fit_shots_drops_the_least_useful_first(tmp_path: Path) -> None:
    template = load_template(tmp_path, "qa", None)
    full = measure(template, instruction="", shots=SHOTS, question="Why?", tokenizer=None)
    kept, tokens = fit_shots(template, instruction="", shots=SHOTS, question="Why?", tokenizer=None,
                             limit=full.total - 1)  # fmt: skip
    assert kept == SHOTS[:5] and tokens.total <= full.total - 1
    kept, _ = fit_shots(
        template, instruction="", shots=SHOTS, question="Why?", tokenizer=None, limit=full.total
    )
    assert kept == SHOTS
    kept, _ = fit_shots(template, instruction="", shots=SHOTS, question="Why?", tokenizer=None, limit=20,
                        context_budget=10)  # fmt: skip
    assert kept == []


def test_prompt_limit_leaves_room_for_the_answer() -> None:
    assert prompt_limit(4096, None, 128) == 4096
    assert prompt_limit(4096, 2048, 128) == 1920
