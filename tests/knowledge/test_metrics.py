"""Retrieval metrics on a hand-made case."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptfile.knowledge.metrics import RetrievalCase, SourceNames, is_hit, retrieval_metrics, same_source


@dataclass
class C:
    path: str
    text: str


CASES = [
    RetrievalCase("q1", "docs/a.md", "blue"),  # hit at rank 1
    RetrievalCase(
        "q2", "docs/b.md", "forty two"
    ),  # hit at rank 2 (rank 1 is the right doc without the answer)
    RetrievalCase("q3", "c.md"),  # no answer given: any chunk of the doc, rank 3
    RetrievalCase("q4", "docs/d.md", "never"),  # miss
]
RESULTS = [
    [C("docs/a.md", "The sky is Blue."), C("docs/x.md", "blue")],
    [C("docs/b.md", "no answer here"), C("docs/b.md", "It is forty\n two.")],
    [C("docs/x.md", "."), C("docs/y.md", "."), C("docs/c.md", "anything")],
    [C("docs/d.md", "nothing"), C("docs/x.md", "never")],
]


def test_hit_rate_and_mrr() -> None:
    at3 = retrieval_metrics(CASES, RESULTS, k=3)
    assert at3["hit_rate"] == pytest.approx(3 / 4)
    assert at3["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    at1 = retrieval_metrics(CASES, RESULTS, k=1)
    assert at1["hit_rate"] == pytest.approx(1 / 4) and at1["mrr"] == pytest.approx(1 / 4)


def test_hit_needs_gold_document_and_answer() -> None:
    case = RetrievalCase("q", "docs/a.md", "Answer")
    assert is_hit(C("docs/a.md", "the answer is here"), case)
    assert not is_hit(C("docs/b.md", "the answer is here"), case)
    assert not is_hit(C("docs/a.md", "nothing"), case)


def test_source_matching() -> None:
    assert same_source("corpus/630.txt", "630")
    assert same_source("docs/faq.md", "faq.md") and same_source("docs/faq.md", "./docs/faq.md")
    assert not same_source("docs/faq.md", "aq.md")


_PART = st.sampled_from(["docs", "a", "faq", "faq.md", "630.txt", "630", "x.y.md", "README"])
_PATH = st.lists(_PART, min_size=1, max_size=3).map("/".join)
_SOURCE = st.one_of(_PATH, _PATH.map(lambda s: "./" + s), _PATH.map(lambda s: s.replace("/", "\\")), _PART)


@given(paths=st.lists(_PATH, max_size=6), source=_SOURCE)
def test_source_names_match_as_same_source(paths: list[str], source: str) -> None:
    assert (source in SourceNames(paths)) == any(same_source(p, source) for p in paths)


def test_empty_and_mismatched() -> None:
    assert retrieval_metrics([], [], k=2) == {"hit_rate": 0.0, "mrr": 0.0, "k": 2, "n": 0}
    with pytest.raises(ValueError):
        retrieval_metrics(CASES, RESULTS[:1], k=2)
