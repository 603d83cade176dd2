"""Chunking: sentence-aware pieces within the token budget, each citing the exact span of its source."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.schema import MetadataMode

from adaptfile.knowledge.chunking import Chunk, chunk_documents, default_chunk_overlap, default_chunk_size
from adaptfile.knowledge.documents import SourceDocument, load_documents
from adaptfile.knowledge.embedders import HashingEmbedder
from adaptfile.knowledge.pipeline import RagSettings


def _words(text: str) -> list[str]:
    return text.split()


def test_spans_point_at_the_source_text(tree, long_text) -> None:
    root = tree({"docs/a.md": "# Title\n\n" + long_text("alpha"), "docs/b.txt": long_text("beta")})
    docs = load_documents(root, ["docs/a.md", "docs/b.txt"]).documents
    chunks = chunk_documents(docs, chunk_size=40, chunk_overlap=8, tokenize=_words)
    assert len(chunks) > 4
    for chunk in chunks:
        source = (root / chunk.path).read_text(encoding="utf-8")
        assert source[chunk.start : chunk.end] == chunk.text
        assert chunk.citation == f"{chunk.path}:{chunk.start}-{chunk.end}"


def test_repeated_text_maps_to_each_occurrence() -> None:
    text = "\n\n".join(["The same sentence repeats here."] * 12)
    chunks = chunk_documents([SourceDocument("r.txt", text)], chunk_size=12, chunk_overlap=0, tokenize=_words)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts)) and len(starts) > 3
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_chunks_fit_the_budget_including_the_title(long_text) -> None:
    doc = SourceDocument("a.md", long_text("gamma", 80), title="A rather long title of five words")
    chunks = chunk_documents([doc], chunk_size=32, chunk_overlap=4, tokenize=_words)
    assert all(len(_words(c.embed_text())) <= 32 for c in chunks)


def test_embedded_text_is_llama_index_embed_content_without_paths() -> None:
    chunk = Chunk("docs/a.md", 10, 20, "some text", "Title")
    node = chunk.to_node()
    assert node.get_content(MetadataMode.EMBED) == chunk.embed_text() == "title: Title\n\nsome text"
    assert "docs/a.md" not in node.get_content(MetadataMode.LLM)
    assert node.node_id == "docs/a.md:10-20"


def test_default_size_derives_from_the_embedder_window() -> None:
    embedder = HashingEmbedder(window=256)
    size, overlap, warnings = RagSettings().chunking(embedder)
    assert (size, overlap, warnings) == (default_chunk_size(256), default_chunk_overlap(224), [])
    assert size == 224
    size, _, warnings = RagSettings(chunk_size=1024).chunking(embedder)
    assert size == 1024 and "exceeds the 256-token window" in warnings[0]


def test_settings_from_toml_paths() -> None:
    settings = RagSettings.from_params(
        {"rag.chunk_size": 100, "rag.top_k": 3, "rag.chunk_overlap": None, "x": 1}
    )
    assert (settings.chunk_size, settings.top_k, settings.chunk_overlap) == (100, 3, None)


def test_empty_corpus_has_no_chunks(tmp_path: Path) -> None:
    assert chunk_documents([], 32, 4, _words) == []
