"""build_rag streams: documents are read, embedded and indexed a batch at a time, and batching changes no byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import VectorStoreIndex

from adaptfile.knowledge import documents, index, pipeline
from adaptfile.knowledge.pipeline import RagSettings, build_rag

SETTINGS = RagSettings(embed_model="test-hashing", chunk_size=24, chunk_overlap=4)
TOPICS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def _project(tree, long_text) -> tuple[Path, list[str]]:
    files = {f"docs/{topic}.md": long_text(topic, sentences=12) for topic in TOPICS}
    files["docs/zz-copy.md"] = files["docs/alpha.md"]  # the same chunk texts again, in a later batch
    return tree(files), sorted(files)


def test_documents_are_read_embedded_and_indexed_a_batch_at_a_time(tree, long_text, monkeypatch) -> None:
    root, files = _project(tree, long_text)
    events: list[str] = []
    read, insert = documents.read_document, VectorStoreIndex.insert_nodes

    def reading(*args, **kwargs):
        events.append("read")
        return read(*args, **kwargs)

    def inserting(self, nodes, **kwargs):
        events.append("insert")
        return insert(self, nodes, **kwargs)

    monkeypatch.setattr(documents, "read_document", reading)
    monkeypatch.setattr(VectorStoreIndex, "insert_nodes", inserting)
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 8)
    monkeypatch.setattr(index, "INSERT_BATCH", 8)
    progress = lambda *_: events.append("embed")  # noqa: E731  (one call per embedded group)
    report = build_rag(root, files, root / "index", SETTINGS, progress=progress)
    assert report.chunks > 3 * 8 and events.count("read") == len(files)
    last_read = len(events) - 1 - events[::-1].index("read")
    assert events.index("insert") < last_read  # indexing began before the last document was read
    assert events.index("embed") < events.index("insert") < len(events) - 1 - events[::-1].index("embed")


@pytest.mark.parametrize("store", ["simple", "faiss"])
def test_batch_sizes_change_no_byte_or_count(tree, long_text, monkeypatch, store: str) -> None:
    if store == "faiss":
        pytest.importorskip("faiss")
    root, files = _project(tree, long_text)
    settings = RagSettings(embed_model="test-hashing", chunk_size=24, chunk_overlap=4, store=store)
    whole = build_rag(root, files, root / "whole", settings, cache_path=root / "c1.sqlite")
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 5)
    batched = build_rag(root, files, root / "batched", settings, cache_path=root / "c2.sqlite")
    assert batched.digest == whole.digest
    assert (
        (batched.documents, batched.chunks)
        == (whole.documents, whole.chunks)
        == (len(files), whole.embed.total)
    )
    stats = batched.embed
    assert (stats.embedded, stats.reused, stats.tokens) == (whole.embed.embedded, 0, whole.embed.tokens)
    assert stats.embedded < stats.total  # the copied document's chunks were embedded once
    assert (root / "batched/adapt_gaps.json").read_bytes() == (root / "whole/adapt_gaps.json").read_bytes()


def test_progress_counts_every_chunk_when_the_total_is_unknown(tree, long_text, monkeypatch) -> None:
    root, files = _project(tree, long_text)
    seen: list[tuple] = []
    monkeypatch.setattr(pipeline, "STREAM_BATCH", 8)
    report = build_rag(root, files, root / "index", SETTINGS, progress=lambda *a: seen.append(a))
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
    assert seen[-1][:2] == (report.chunks, None) and "chunks/s" in seen[-1][2]
