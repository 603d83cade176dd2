"""Retrieval metrics: hit rate @k and MRR, where a hit is a chunk of the gold document holding the answer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

_SPACE = re.compile(r"\s+")


class Cited(Protocol):
    path: str
    text: str


@dataclass(frozen=True)
class RetrievalCase:
    """An eval row: the question, its gold document (`source`) and, optionally, the answer text."""

    question: str
    source: str
    answer: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RetrievalCase:
        return cls(str(row["question"]), str(row["source"]), row.get("answer") or None)


def same_source(path: str, source: str) -> bool:
    """`source` names `path` exactly, as a path suffix ("faq.md" for "docs/faq.md"), or by stem ("630")."""
    source = _clean_source(source)
    pure = PurePosixPath(path)
    return path == source or path.endswith("/" + source) or pure.stem == source


class SourceNames:
    """Every name by which a source can point at one of `paths` (as same_source matches), so that checking
    thousands of sources against thousands of files costs one set lookup each."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._names: set[str] = set()
        for path in paths:
            parts = path.split("/")
            self._names.update("/".join(parts[i:]) for i in range(len(parts)))
            self._names.add(PurePosixPath(path).stem)

    def __contains__(self, source: str) -> bool:
        return _clean_source(source) in self._names


def _clean_source(source: str) -> str:
    return source.replace("\\", "/").removeprefix("./")


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def is_hit(chunk: Cited, case: RetrievalCase) -> bool:
    """From the gold document and, when an answer is given, containing it (case and whitespace ignored)."""
    if not same_source(chunk.path, case.source):
        return False
    return case.answer is None or normalize(case.answer) in normalize(chunk.text)


def first_hit_rank(chunks: Sequence[Cited], case: RetrievalCase) -> int | None:
    """1-based rank of the first hit, or None."""
    for rank, chunk in enumerate(chunks, 1):
        if is_hit(chunk, case):
            return rank
    return None


def retrieval_metrics(
    cases: Sequence[RetrievalCase], retrieved: Sequence[Sequence[Cited]], k: int
) -> dict[str, float | int]:
    """{"hit_rate": hits@k / n, "mrr": mean of 1/rank of the first hit within k, "k": k, "n": n}."""
    if len(cases) != len(retrieved):
        raise ValueError(f"{len(cases)} cases but {len(retrieved)} retrieval results")
    hits = 0
    reciprocal = 0.0
    for case, chunks in zip(cases, retrieved, strict=True):
        rank = first_hit_rank(chunks[:k], case)
        if rank is not None:
            hits += 1
            reciprocal += 1.0 / rank
    n = len(cases)
    return {"hit_rate": hits / n if n else 0.0, "mrr": reciprocal / n if n else 0.0, "k": k, "n": n}
