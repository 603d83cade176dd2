"""Build and persist a plain llama-index VectorStoreIndex from chunks and their vectors; load it back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.errors import ConfigError
from adaptfile.knowledge.chunking import Chunk
from adaptfile.knowledge.embedders import Embedder

if TYPE_CHECKING:
    import numpy as np
    from llama_index.core import VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding

INDEX_ID = "adapt"
MANIFEST = "adapt_index.json"  # written beside llama-index's files: embedder, chunk settings, counts
FORMAT_VERSION = 1


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
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    embedder: Embedder,
    persist_dir: Path,
    settings: dict[str, Any] | None = None,
    store: str = "simple",
) -> str:
    """Write the index under `persist_dir` (llama-index StorageContext layout); returns its digest."""
    if store != "simple":
        raise ConfigError(
            f'rag.store = "{store}" is not supported yet',
            hint='use rag.store = "simple" (the default)',
        )
    from llama_index.core import StorageContext, VectorStoreIndex

    nodes = []
    for chunk, vector in zip(chunks, vectors, strict=True):
        node = chunk.to_node()
        node.embedding = [float(x) for x in vector]
        nodes.append(node)
    storage = StorageContext.from_defaults()
    index = VectorStoreIndex(nodes, storage_context=storage, embed_model=llama_embedding(embedder))
    index.set_index_id(INDEX_ID)
    persist_dir.mkdir(parents=True, exist_ok=True)
    storage.persist(persist_dir=str(persist_dir))
    manifest = {
        "format": FORMAT_VERSION,
        "index_id": INDEX_ID,
        "embed_model": embedder.id,
        "embed_revision": embedder.revision,
        "dims": embedder.dims,
        "chunks": len(nodes),
        "settings": settings or {},
    }
    (persist_dir / MANIFEST).write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return index_digest(persist_dir)


def index_digest(persist_dir: Path) -> str:
    """sha256 over the index directory's file names and bytes (the persisted bytes are deterministic)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in persist_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(persist_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_manifest(persist_dir: Path) -> dict[str, Any]:
    path = persist_dir / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no built index in {persist_dir}",
            hint="run `adapt build` first (the rag.index step writes it)",
        ) from None


def load_index(persist_dir: Path, embedder: Embedder) -> VectorStoreIndex:
    """The persisted index, with `embedder` answering query embeddings."""
    from llama_index.core import StorageContext, load_index_from_storage

    storage = StorageContext.from_defaults(persist_dir=str(persist_dir))
    return load_index_from_storage(storage, index_id=INDEX_ID, embed_model=llama_embedding(embedder))
