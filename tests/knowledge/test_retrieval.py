"""Retrieval at query time: vector and hybrid, citations, JSON shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.errors import ConfigError
from adaptfile.knowledge.pipeline import RagSettings, build_rag
from adaptfile.knowledge.retrieval import Retriever, find_index, retrieval_result

FILES = ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]


@pytest.fixture
def index(corpus: Path) -> Path:
    build_rag(
        corpus, FILES, corpus / "build/rag.index/index", RagSettings(embed_model="test-hashing", top_k=2)
    )
    return corpus / "build/rag.index/index"


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
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
    with pytest.raises(ConfigError, match="no built RAG index"):
        find_index(tmp_path / "elsewhere")
