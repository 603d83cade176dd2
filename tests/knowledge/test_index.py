"""The persisted index: deterministic bytes, no absolute paths, loadable by plain llama-index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from llama_index.core import StorageContext, load_index_from_storage

from adaptfile.knowledge.embedders import get_embedder
from adaptfile.knowledge.index import index_digest, llama_embedding
from adaptfile.knowledge.pipeline import RagSettings, build_rag

SETTINGS = RagSettings(embed_model="test-hashing", chunk_size=24, chunk_overlap=4)
FILES = ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]


def test_same_inputs_same_bytes(corpus: Path) -> None:
    one = build_rag(corpus, FILES, corpus / "i1", SETTINGS, cache_path=corpus / "c1.sqlite")
    two = build_rag(corpus, FILES, corpus / "i2", SETTINGS, cache_path=corpus / "c2.sqlite")
    assert one.digest == two.digest == index_digest(corpus / "i1")


def test_moving_the_project_changes_nothing(corpus: Path, tmp_path: Path) -> None:
    before = build_rag(corpus, FILES, corpus / "build/index", SETTINGS).digest
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(corpus, moved)
    shutil.rmtree(moved / ".adapt")
    after = build_rag(moved, FILES, moved / "build/index", SETTINGS)
    assert after.digest == before and after.embed.embedded == after.chunks
    for path in (moved / "build/index").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert str(tmp_path).encode() not in data and str(moved).encode() not in data


def test_plain_llama_index_loads_and_queries_it(corpus: Path) -> None:
    build_rag(corpus, FILES, corpus / "index", SETTINGS)
    storage = StorageContext.from_defaults(persist_dir=str(corpus / "index"))
    index = load_index_from_storage(storage, embed_model=llama_embedding(get_embedder("test-hashing")))
    hits = index.as_retriever(similarity_top_k=1).retrieve("how do I reset the router button")
    assert hits[0].node.metadata["path"] == "docs/router.md"
    manifest = json.loads((corpus / "index/adapt_index.json").read_text())
    assert manifest["embed_model"] == "test-hashing" and manifest["chunks"] == len(index.docstore.docs)
