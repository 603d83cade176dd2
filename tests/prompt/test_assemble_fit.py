"""Serving prompts fit the budget in the model's own tokens: shots, then passages, give way."""

from __future__ import annotations

from pathlib import Path

from adaptfile.prompt.assemble import PromptBuild
from adaptfile.prompt.shipped import shipped_template
from adaptfile.prompt.template import Passage, Shot, compile_template

DOC = "The reset button is on the back. " * 40  # ≈ 330 tokens at 4 characters per token


def build(limit: int, shots: int = 2) -> PromptBuild:
    path = shipped_template("qa")
    template = compile_template(path.read_text(encoding="utf-8"), "shipped:qa.j2", Path(path))
    fixed = [Shot(f"question {i}?", f"answer {i}") for i in range(shots)]
    settings = {"schema": 1, "template": "shipped:qa.j2", "shots": shots, "limit": limit}
    return PromptBuild(template, "Answer briefly.", fixed, [], settings)


def passages(n: int) -> list[Passage]:
    return [Passage(f"docs/{i}.md", 100, 100 + len(DOC), DOC) for i in range(n)]


def test_a_prompt_that_fits_keeps_everything() -> None:
    prompt = build(limit=4000).assemble("Where is the reset button?", passages(2))
    assert len(prompt.shots) == 2 and len(prompt.context) == 2
    assert prompt.tokens.total <= 4000


def test_least_relevant_passages_give_way_to_the_budget() -> None:
    ranked = passages(3)
    prompt = build(limit=500).assemble("Where is the reset button?", ranked)
    assert prompt.tokens.total <= 500
    assert prompt.context == ranked[:1]  # the best-ranked passage stays


def test_the_last_passage_is_shortened_with_an_exact_span() -> None:
    prompt = build(limit=200).assemble("Where is the reset button?", passages(2))
    assert prompt.tokens.total <= 200
    [passage] = prompt.context
    assert DOC.startswith(passage.text) and len(passage.text) < len(DOC)
    assert passage.end - passage.start == len(passage.text)
