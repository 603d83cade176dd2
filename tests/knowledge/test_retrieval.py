"""Retrieval at query time: vector and hybrid, citations, JSON shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.errors import NotBuilt
from adaptfile.knowledge.pipeline import RagSettings, build_rag
from adaptfile.knowledge.retrieval import Neighbours, Retriever, find_index, retrieval_result, stitch

FILES = ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]


@pytest.fixture
def index(corpus: Path) -> Path:
    build_rag(
        corpus, FILES, corpus / "build/rag.index/index", RagSettings(embed_model="test-hashing", top_k=2)
    )
    return corpus / "build/rag.index/index"


@pytest.mark.parametrize("mode", ["vector", "hybrid", "keyword"])
def test_best_chunk_comes_from_the_right_document(index: Path, corpus: Path, mode: str) -> None:
    retriever = Retriever.load(index, mode=mode)
    chunks = retriever.retrieve("how long do refunds take")
    assert len(chunks) == 2
    best = chunks[0]
    assert best.path == "docs/billing.md" and "Refunds" in best.text
    assert (corpus / best.path).read_text(encoding="utf-8")[best.start : best.end] == best.text
    assert retriever.retrieve("wifi password", top_k=1)[0].path == "docs/wifi.txt"


def test_settings_come_from_the_build(index: Path) -> None:
    retriever = Retriever.load(index)
    assert (retriever.top_k, retriever.mode) == (2, "hybrid")


def test_json_shape(index: Path) -> None:
    result = retrieval_result("reset", Retriever.load(index, top_k=1).retrieve("reset"))
    assert list(result) == ["question", "chunks"]
    assert set(result["chunks"][0]) == {"path", "start", "end", "score", "text"}


def test_find_index(index: Path, corpus: Path, tmp_path: Path) -> None:
    assert find_index(corpus) == index
    with pytest.raises(NotBuilt, match="no built RAG index"):
        find_index(tmp_path / "elsewhere")


@pytest.fixture
def long_index(tree, long_text) -> Path:
    root = tree({"docs/a.md": "# Alpha\n\n" + long_text("alpha"), "docs/b.txt": long_text("beta")})
    settings = RagSettings(embed_model="test-hashing", chunk_size=40, chunk_overlap=8, top_k=3)
    build_rag(root, ["docs/a.md", "docs/b.txt"], root / "build/rag.index/index", settings)
    return root


@pytest.mark.parametrize("mode", ["vector", "hybrid", "keyword"])
def test_passages_are_exact_spans_widened_by_their_neighbours(long_index: Path, mode: str) -> None:
    index = long_index / "build/rag.index/index"
    narrow = Retriever.load(index, mode=mode, window=0).retrieve("alpha value number 17")
    wide = Retriever.load(index, mode=mode).retrieve("alpha value number 17")
    assert Retriever.load(index).window == 2 and len(wide) == 3
    for passage in wide:
        source = (long_index / passage.path).read_text(encoding="utf-8")
        assert source[passage.start : passage.end] == passage.text
        assert passage.citation == f"{passage.path}:{passage.start}-{passage.end}"
    best, hit = wide[0], narrow[0]
    assert best.start <= hit.start and hit.end <= best.end and len(best.text) > len(hit.text)
    assert "number 17 is 119" in best.text


def test_no_text_is_returned_twice(long_index: Path) -> None:
    retriever = Retriever.load(long_index / "build/rag.index/index", mode="vector", top_k=6, window=2)
    passages = retriever.retrieve("alpha value number 17")
    assert len(passages) == 6
    for a in passages:
        for b in passages:
            if (
                a is not b and a.path == b.path
            ):  # neighbours may share only the chunks' overlap, never a chunk
                assert a.end <= b.start or b.end <= a.start or _shared_overlap_only(a, b)


def _shared_overlap_only(a, b) -> bool:
    first, second = sorted([a, b], key=lambda p: p.start)
    return second.start < first.end < second.end and first.start < second.start


def test_stitch_merges_overlapping_and_touching_spans() -> None:
    source = "abcdefghij"
    spans = [(0, 4, source[0:4]), (2, 7, source[2:7]), (7, 10, source[7:10])]
    assert stitch(spans) == (0, 10, source)
    assert stitch([(0, 6, source[0:6]), (2, 5, source[2:5])]) == (0, 6, source[0:6])
    assert stitch([(0, 3, "abc"), (5, 7, "fg")], {"3": "de"}) == (0, 7, "abcdefg")  # the source text between
    with pytest.raises(ValueError, match="not contiguous"):
        stitch([(0, 3, "abc"), (5, 7, "fg")])


def test_span_stops_at_gaps_and_taken_chunks() -> None:
    spans = [(0, 5, ""), (4, 9, ""), (8, 12, ""), (20, 25, ""), (24, 30, "")]
    assert Neighbours.span(spans, 1, 1, set()) == (0, 2)
    assert Neighbours.span(spans, 1, 2, {0}) == (1, 2)
    assert Neighbours.span(spans, 3, 1, set()) == (3, 4)  # 12..20 is text of no chunk
    assert Neighbours.span(spans, 3, 1, set(), {"12": " " * 8}) == (2, 4)  # unless the index kept it
