"""Build and persist a plain llama-index VectorStoreIndex (simple, faiss or Qdrant vectors) plus its BM25 index."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.errors import NotBuilt
from adaptfile.knowledge.chunking import Chunk
from adaptfile.knowledge.embedders import Embedder
from adaptfile.knowledge.stores import (
    StoreSpec,
    close_store,
    new_vector_store,
    node_id,
    open_vector_store,
    require_store,
)

if TYPE_CHECKING:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding

INDEX_ID = "adapt"
MANIFEST = "adapt_index.json"  # written beside llama-index's files: embedder, chunk settings, counts
FORMAT_VERSION = 2  # 2: "store" in the manifest, the BM25 index in bm25/
BM25_DIR = "bm25"
INSERT_BATCH = 2048  # nodes given embeddings and inserted at a time (llama-index's own insert batch)


def llama_embedding(embedder: Embedder) -> BaseEmbedding:
    """A llama-index embedding model that delegates to `embedder` (used for queries)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class AdaptEmbedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.id, embed_batch_size=64)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(list(texts)).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return AdaptEmbedding(embedder)


def build_index(
    chunks: Iterable[Chunk],
    vectors: Iterable[Sequence[float]],
    embedder: Embedder,
    persist_dir: Path,
    settings: dict[str, Any] | None = None,
    store: StoreSpec | str = "simple",
) -> str:
    """Write the index under `persist_dir` (llama-index StorageContext layout, vectors in `store`, the BM25
    half in `bm25/`); returns its digest. Chunks and vectors are consumed in batches, never copied whole."""
    from llama_index.core import StorageContext, VectorStoreIndex

    spec = store if isinstance(store, StoreSpec) else StoreSpec(store)
    require_store(spec.kind)
    persist_dir.mkdir(parents=True, exist_ok=True)
    vector_store = new_vector_store(spec, persist_dir, embedder.dims)
    storage = StorageContext.from_defaults(vector_store=vector_store)
    try:
        index = VectorStoreIndex(
            [],
            storage_context=storage,
            embed_model=llama_embedding(embedder),
            store_nodes_override=True,  # the docstore keeps every node, whatever the store: BM25 reads it
        )
        index.set_index_id(INDEX_ID)
        count = 0
        pairs = zip(chunks, vectors, strict=True)
        while batch := list(itertools.islice(pairs, INSERT_BATCH)):
            nodes = []
            for chunk, vector in batch:
                node = chunk.to_node()
                node.id_ = node_id(spec.kind, chunk.id)
                node.embedding = [float(x) for x in vector]
                nodes.append(node)
            index.insert_nodes(nodes)
            count += len(nodes)
        storage.persist(persist_dir=str(persist_dir))
    finally:
        close_store(spec, persist_dir)
    persist_bm25(index, persist_dir)
    manifest = {
        "format": FORMAT_VERSION,
        "index_id": INDEX_ID,
        "embed_model": embedder.id,
        "embed_revision": embedder.revision,
        "dims": embedder.dims,
        "chunks": count,
        "settings": settings or {},
        "store": spec.to_json(),
    }
    (persist_dir / MANIFEST).write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return index_digest(persist_dir)


def persist_bm25(index: VectorStoreIndex, persist_dir: Path) -> None:
    """The lexical half of hybrid retrieval, indexed once here (bm25s files) instead of in every reader."""
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = list(index.docstore.docs.values())
    if nodes:
        retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=1)
        canonical_vocabulary(retriever.bm25)
        retriever.persist(str(persist_dir / BM25_DIR))


def canonical_vocabulary(bm25: Any) -> None:
    """Renumber a bm25s index's vocabulary alphabetically, in place. bm25s numbers words in set order,
    which changes with PYTHONHASHSEED, so the same corpus would persist different bytes in every
    process; the scores matrix (one CSC column per word) is permuted to match. Scores are unchanged."""
    import numpy as np

    vocab, scores = bm25.vocab_dict, bm25.scores
    words = sorted(w for w in vocab if w != "")
    indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
    if len(indptr) != len(words) + 1 or any(vocab[w] >= len(words) for w in words):
        return  # a layout this was not written for: leave it as bm25s made it
    spans = [(int(indptr[vocab[w]]), int(indptr[vocab[w] + 1])) for w in words]
    lengths = np.array([end - start for start, end in spans], dtype=indptr.dtype)
    scores["indptr"] = np.concatenate([np.zeros(1, dtype=indptr.dtype), np.cumsum(lengths)])
    scores["indices"] = np.concatenate([indices[a:b] for a, b in spans]) if spans else indices[:0]
    scores["data"] = np.concatenate([data[a:b] for a, b in spans]) if spans else data[:0]
    bm25.vocab_dict = {w: i for i, w in enumerate(words)} | ({"": len(words)} if "" in vocab else {})


def index_digest(persist_dir: Path) -> str:
    """sha256 over the index directory's file names and bytes (the persisted bytes are deterministic)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in persist_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(persist_dir).as_posix().encode() + b"\0")
        with path.open("rb") as handle:  # in blocks: the docstore of a large corpus is hundreds of MB
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def read_manifest(persist_dir: Path) -> dict[str, Any]:
    path = persist_dir / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotBuilt(
            f"no built index in {persist_dir}",
            hint="run `adapt build` first (the rag.index step writes it)",
        ) from None


def load_index(persist_dir: Path, embedder: Embedder) -> VectorStoreIndex:
    """The persisted index, its vectors in the store it was built with, `embedder` answering queries."""
    from llama_index.core import StorageContext, load_index_from_storage

    spec = StoreSpec.from_json(read_manifest(persist_dir).get("store"))
    vector_store = open_vector_store(spec, persist_dir)
    storage = StorageContext.from_defaults(persist_dir=str(persist_dir), vector_store=vector_store)
    return load_index_from_storage(storage, index_id=INDEX_ID, embed_model=llama_embedding(embedder))
