"""The vector store behind an index: llama-index's simple store, faiss, or Qdrant (embedded, or a server)."""

from __future__ import annotations

import atexit
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptfile.errors import ConfigError, StepFailed

STORES = ("simple", "faiss", "qdrant")
# What each store imports, and the adaptfile extra that installs it.
NEEDS = {
    "faiss": ("faiss", "llama_index.vector_stores.faiss"),
    "qdrant": ("qdrant_client", "llama_index.vector_stores.qdrant"),
}
QDRANT_DIR = "qdrant"  # embedded Qdrant's files, inside the index directory
API_KEY_ENV = "QDRANT_API_KEY"  # read from the environment for a Qdrant server; never recorded
LOCAL_COLLECTION = "adapt"
SERVER_TIMEOUT_S = 10
# Past this many points qdrant-client advises a server over its embedded mode, which keeps every point in memory
# and scans every vector per question (100,000 chunks: 3.4 GB to open, ~150 ms a search; bench/rag_scale.py).
LOCAL_QDRANT_POINTS = 20_000
_open_local: dict[str, Any] = {}  # embedded Qdrant allows one client per directory and process


@dataclass(frozen=True)
class StoreSpec:
    """Which store holds the vectors: `kind`, and for a Qdrant server its URL and collection."""

    kind: str = "simple"
    url: str | None = None
    collection: str = LOCAL_COLLECTION

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "collection": self.collection}

    @classmethod
    def from_json(cls, row: dict[str, Any] | None) -> StoreSpec:
        row = row or {}
        return cls(row.get("kind", "simple"), row.get("url"), row.get("collection", LOCAL_COLLECTION))


def collection_name(project: str, key: str) -> str:
    """A server collection per project and index key, so readers of one build share one collection."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", project).strip("-") or "adapt"
    return f"{slug}-{key[:16]}"


def node_id(kind: str, chunk_id: str) -> str:
    """The llama-index node id: `path:start-end`, or for Qdrant (whose point ids are UUIDs) its uuid5."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, chunk_id)) if kind == "qdrant" else chunk_id


def require_store(kind: str) -> None:
    """Fail with the extra to install when the store's packages are missing."""
    if kind not in STORES:
        raise ConfigError(
            f'rag.store = "{kind}" is not a vector store', hint=f"use one of {', '.join(STORES)}"
        )
    for module in NEEDS.get(kind, ()):
        try:
            __import__(module)
        except ImportError:
            raise ConfigError(
                f'rag.store = "{kind}" needs the {kind} extra ({module} is not installed)',
                hint=f"pip install 'adaptfile[{kind}]', or use rag.store = \"simple\"",
            ) from None


def check_server(spec: StoreSpec) -> None:
    """Reach the Qdrant server before any work is done (nothing is embedded or cached when it is down)."""
    if spec.kind == "qdrant" and spec.url:
        try:
            _server_client(spec.url).get_collections()
        except Exception as err:
            raise StepFailed(
                f"rag.url = {spec.url!r}: cannot reach the Qdrant server ({type(err).__name__}: {err})",
                hint=f"start the server or fix rag.url; a key is read from ${API_KEY_ENV} when the server needs one",
            ) from None


def scale_warnings(spec: StoreSpec, chunks: int) -> list[str]:
    """What a build of `chunks` chunks into `spec` should hear about its size."""
    if spec.kind == "qdrant" and not spec.url and chunks > LOCAL_QDRANT_POINTS:
        return [
            f"{chunks:,} chunks in embedded Qdrant: it keeps every point in memory and scans every vector for "
            f"each question (slow past {LOCAL_QDRANT_POINTS:,}); set rag.url to a Qdrant server, or use "
            'rag.store = "faiss"'
        ]
    return []


def new_vector_store(spec: StoreSpec, persist_dir: Path, dims: int) -> Any:
    """An empty store for a new index."""
    if spec.kind == "faiss":
        import faiss
        from llama_index.vector_stores.faiss import FaissVectorStore

        # inner product of L2-normalised vectors is the cosine similarity the simple store ranks by
        return FaissVectorStore(faiss_index=faiss.IndexFlatIP(dims))
    if spec.kind == "qdrant":
        client = _client(spec, persist_dir)
        if client.collection_exists(spec.collection):  # a rebuild of the same key replaces it
            client.delete_collection(spec.collection)
        store = _qdrant_store(spec, client)
        if not spec.url:
            _bulk_load(store, client, spec.collection, dims)
        return store
    return _simple_store()


def _simple_store() -> Any:
    """llama-index's SimpleVectorStore, persisted in the same bytes without its slow path: `persist` turns
    the vectors into a dict through dataclasses_json (a recursive deep copy of every float) and streams
    them through json.dump's pure-Python encoder: 20 of the 25 s of a 3,000-chunk index's rewrite
    (bench/rag_covidqa.py's one-document rebuild). The fields are plain dicts, so one json.dumps (the C
    encoder) writes what json.dump(data.to_dict()) wrote; `SimpleVectorStore.from_persist_path` reads it."""
    import dataclasses
    import json

    import fsspec
    from llama_index.core.vector_stores import SimpleVectorStore

    class Store(SimpleVectorStore):
        def persist(self, persist_path: str, fs: fsspec.AbstractFileSystem | None = None) -> None:
            fs = fs or self._fs
            fields = {f.name: getattr(self.data, f.name) for f in dataclasses.fields(self.data)}
            fs.makedirs(os.path.dirname(persist_path), exist_ok=True)
            with fs.open(persist_path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(fields))

    return Store()


def _bulk_load(store: Any, client: Any, collection: str, dims: int) -> None:
    """Embedded Qdrant writes every point to its SQLite file in a transaction of its own, each synced to disk
    (4-20 ms a point: a 100,000-chunk build would wait most of an hour). qdrant-client has no bulk-load
    option, so the collection is created now (by llama-index's store, as its first insert would) and its
    connection told not to wait for the disk: no sync per commit, the rollback journal in memory. The file's
    contents are the same; like the index's other files (llama-index's JSON is not synced either) it reaches
    the disk when the OS writes it. Should qdrant-client's local layout change, the build stays correct, only
    slow."""
    store._create_collection(collection_name=collection, vector_size=dims)
    try:
        connection = client._client.collections[collection].storage.storage
    except (AttributeError, KeyError):
        return
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA journal_mode=MEMORY")


def open_vector_store(spec: StoreSpec, persist_dir: Path) -> Any:
    """The store of a built index (None: the simple store in `persist_dir`)."""
    require_store(spec.kind)
    if spec.kind == "faiss":
        return _one_thread_faiss().from_persist_dir(str(persist_dir))
    if spec.kind == "qdrant":
        return _qdrant_store(spec, _client(spec, persist_dir))
    return None


def _one_thread_faiss() -> type:
    """llama-index's faiss store, searching in one OpenMP thread. A question is one query vector: faiss's
    flat scan of it gains nothing from a second thread, and on busy cores its spinning threads cost more
    (100,000 chunks, 2 cores under load: 41 ms a search in 2 threads, 11 ms in 1). The thread count is the
    calling thread's own OpenMP setting, in faiss's own OpenMP runtime (not torch's), restored after."""
    import faiss
    from llama_index.vector_stores.faiss import FaissVectorStore

    class OneThreadFaissVectorStore(FaissVectorStore):
        def query(self, query: Any, **kwargs: Any) -> Any:
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                return super().query(query, **kwargs)
            finally:
                faiss.omp_set_num_threads(threads)

    return OneThreadFaissVectorStore


def close_store(spec: StoreSpec, persist_dir: Path) -> None:
    """Release embedded Qdrant's lock on `persist_dir` (before the build publishes it)."""
    client = _open_local.pop(str((persist_dir / QDRANT_DIR).resolve()), None)
    if client is not None:
        client.close()


def _qdrant_store(spec: StoreSpec, client: Any) -> Any:
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    return QdrantVectorStore(collection_name=spec.collection, client=client, index_doc_id=False)


def _client(spec: StoreSpec, persist_dir: Path) -> Any:
    if spec.url:
        return _server_client(spec.url)
    from qdrant_client import QdrantClient

    path = str((persist_dir / QDRANT_DIR).resolve())
    if path not in _open_local:
        if not _open_local:  # closed before interpreter shutdown, when qdrant's __del__ can no longer import
            atexit.register(_close_all)
        _open_local[path] = QdrantClient(path=path)
    return _open_local[path]


def _close_all() -> None:
    while _open_local:
        _open_local.popitem()[1].close()


def _server_client(url: str) -> Any:
    from qdrant_client import QdrantClient

    return QdrantClient(
        url=url,
        api_key=os.environ.get(API_KEY_ENV) or None,
        timeout=SERVER_TIMEOUT_S,
        check_compatibility=False,
    )
