"""Task metrics over predictions, hand-computed; percentiles; goal direction."""

from __future__ import annotations

import pytest

from adaptfile.evaluate.metrics import Prediction, meets, percentile, task_metrics


def _p(answer: str, gold: str, nll: float = 1.0, tokens: int = 10, ms: float = 100.0, **kw) -> Prediction:
    return Prediction("q", gold, answer, nll, tokens, ms, [], **kw)


def test_qa_metrics_hand_computed() -> None:
    predictions = [
        _p("The cat.", "cat", nll=1.0, tokens=10, ms=100),  # EM 1 (article, punctuation, case), F1 1
        _p("a black dog", "black cat", nll=3.0, tokens=20, ms=300),  # EM 0; F1: p 1/2, r 1/2 → 0.5
    ]
    m = task_metrics("qa", predictions, rag=False)
    assert m["exact_match"] == 0.5
    assert m["f1"] == 0.75
    assert m["answer_nll"] == 2.0
    assert m["prompt_tokens"] == 15
    assert m["latency_p50_ms"] == 200.0
    assert m["latency_p95_ms"] == pytest.approx(290.0)
    assert "hit_rate" not in m and "rouge_l" not in m


def test_retrieval_metrics_only_with_rag_and_sources() -> None:
    predictions = [
        _p("x", "x", source="docs/a.md", retrieval_rank=1),
        _p("x", "x", source="docs/b.md", retrieval_rank=2),
        _p("x", "x", source="docs/c.md", retrieval_rank=None),
        _p("x", "x"),  # no source: not a retrieval case
    ]
    m = task_metrics("extract", predictions, rag=True)
    assert m["hit_rate"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert "hit_rate" not in task_metrics("extract", predictions, rag=False)


def test_classify_metrics_hand_computed() -> None:
    golds = ["pos", "pos", "neg", "neg"]
    answers = ["pos", "neg", "neg", "neg"]
    m = task_metrics("classify", [_p(a, g) for a, g in zip(answers, golds, strict=True)], rag=False)
    assert m["accuracy"] == 0.75
    # pos: p 1/1, r 1/2 → 2/3; neg: p 2/3, r 2/2 → 0.8; macro = (2/3 + 0.8) / 2
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-6)


def test_classify_answers_are_normalised_to_the_label_set_first() -> None:
    labels = ["card_arrival", "card_linking", "lost_or_stolen_card"]
    golds = ["card_arrival", "card_linking", "lost_or_stolen_card", "card_arrival"]
    answers = [
        "  Card Arrival.\n",  # case, spaces for underscores, punctuation
        "The intent is card_linking because the card must be linked.",  # one label inside the text
        "lost or stolen card",
        "You can verify your new card by following the link.",  # names no label: wrong
    ]
    rows = [_p(a, g) for a, g in zip(answers, golds, strict=True)]
    m = task_metrics("classify", rows, rag=False, labels=labels)
    assert m["accuracy"] == 0.75
    # card_arrival: tp 1, fn 1 → 2/3; card_linking 1.0; lost_or_stolen_card 1.0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 1) / 3, abs=1e-6)
    assert task_metrics("classify", rows, rag=False)["accuracy"] == 0.0  # no label set: exact (folded) only


def test_summarize_uses_rouge_l() -> None:
    # LCS("the cat sat", "the cat sat down") = 3: p 1, r 3/4 → F 6/7
    m = task_metrics("summarize", [_p("the cat sat", "the cat sat down")], rag=False)
    assert m["rouge_l"] == pytest.approx(6 / 7, abs=1e-6)
    assert "exact_match" not in m


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 95) == pytest.approx(48.0)


def test_goal_direction() -> None:
    assert meets("answer_nll", 2.4, 2.5) and not meets("answer_nll", 2.6, 2.5)
    assert meets("exact_match", 0.8, 0.8) and not meets("exact_match", 0.7, 0.8)
    assert not meets("f1", None, 0.1) and not meets("f1", float("nan"), 0.1)
