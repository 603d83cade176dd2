"""Metrics by task over one variant's predictions, and which direction of each is better."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adaptfile.evaluate.scores import (
    accuracy,
    exact_match,
    macro_f1,
    normalize_label,
    rouge_l,
    token_f1,
)

LOWER_IS_BETTER = {"answer_nll", "prompt_tokens", "latency_p50_ms", "latency_p95_ms"}
TASK_METRICS = {
    "classify": ("accuracy", "macro_f1"),
    "qa": ("exact_match", "f1"),
    "extract": ("exact_match", "f1"),
    "summarize": ("rouge_l",),
    "generate": ("rouge_l",),
    "chat": ("rouge_l",),
}


@dataclass(frozen=True)
class Prediction:
    """One eval row's outcome under one variant."""

    question: str
    gold: str
    answer: str
    answer_nll: float
    prompt_tokens: int
    latency_ms: float
    citations: list[str]
    source: str | None = None
    retrieval_rank: int | None = None  # 1-based rank of the first hit; None = miss or no RAG

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def task_metrics(
    task: str, predictions: Sequence[Prediction], rag: bool, labels: Sequence[str] = ()
) -> dict[str, float]:
    """The task's answer metrics, hit_rate/mrr where RAG was used and rows name a source, answer_nll,
    mean prompt tokens and latency p50/p95. For "classify", each answer is first normalised to one of
    `labels` (see `normalize_label`); an answer that names none is scored wrong."""
    answers = [p.answer for p in predictions]
    golds = [p.gold for p in predictions]
    if task == "classify":
        answers = [normalize_label(a, labels) for a in answers]
        golds = [normalize_label(g, labels) for g in golds]
    out: dict[str, float] = {}
    for name in TASK_METRICS.get(task, ("rouge_l",)):
        out[name] = _score(name, answers, golds)
    cases = [p for p in predictions if p.source]
    if rag and cases:
        out["hit_rate"] = sum(1 for p in cases if p.retrieval_rank) / len(cases)
        out["mrr"] = sum(1 / p.retrieval_rank for p in cases if p.retrieval_rank) / len(cases)
    out["answer_nll"] = _mean([p.answer_nll for p in predictions])
    out["prompt_tokens"] = _mean([p.prompt_tokens for p in predictions])
    latencies = [p.latency_ms for p in predictions]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    return {k: round(v, 6) for k, v in out.items()}


def _score(name: str, answers: list[str], golds: list[str]) -> float:
    if name == "accuracy":
        return accuracy(answers, golds)
    if name == "macro_f1":
        return macro_f1(answers, golds)
    pair = {"exact_match": exact_match, "f1": token_f1, "rouge_l": rouge_l}[name]
    return _mean([pair(a, g) for a, g in zip(answers, golds, strict=True)])


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def meets(metric: str, value: float | None, target: float) -> bool:
    """Whether a measured value meets the goal's target (≤ for losses, ≥ otherwise)."""
    if value is None or math.isnan(value):
        return False
    return value <= target if metric in LOWER_IS_BETTER else value >= target
