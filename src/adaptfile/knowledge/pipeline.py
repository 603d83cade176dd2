"""The RAG build as one library call: settings from `rag.*` params, then load → chunk → embed → index."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.knowledge.chunking import Chunk, chunk_documents, default_chunk_overlap, default_chunk_size
from adaptfile.knowledge.documents import SourceDocument, load_documents, require_files
from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, Embedder, get_embedder
from adaptfile.knowledge.embedding import EmbeddingCache, EmbedStats, Progress, embed_texts
from adaptfile.knowledge.index import build_index
from adaptfile.knowledge.stores import LOCAL_COLLECTION, StoreSpec, check_server, require_store

EMBEDDING_CACHE = Path(".adapt") / "embeddings" / "vectors.sqlite"  # relative to the project root
GAPS = "adapt_gaps.json"  # beside the index: source text between consecutive chunks that do not overlap
MAX_GAP = 200  # characters; a longer gap ends a retrieved passage


@dataclass(frozen=True)
class RagSettings:
    """The `rag.*` knobs a build reads; None chunk sizes are derived from the embedder's window."""

    embed_model: str = DEFAULT_EMBED_MODEL
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    top_k: int = 4
    store: str = "simple"
    url: str | None = None  # a Qdrant server (rag.store = "qdrant"); None: embedded, inside the index
    retriever: str = "hybrid"
    window: int = 2  # neighbouring chunks returned on each side of a retrieved chunk (small-to-big)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RagSettings:
        """From step params keyed by TOML path ("rag.chunk_size") or by bare name."""
        known = cls.__dataclass_fields__
        values = {key.removeprefix("rag."): value for key, value in params.items()}
        return cls(**{key: value for key, value in values.items() if key in known and value is not None})

    def chunking(self, embedder: Embedder) -> tuple[int, int, list[str]]:
        """(chunk size, overlap, warnings): the size defaults to 7/8 of the embedder's text window."""
        warnings = []
        size = self.chunk_size or default_chunk_size(embedder.window)
        if size > embedder.text_window:
            warnings.append(
                f"rag.chunk_size = {size} exceeds the {embedder.text_window}-token window of {embedder.id}; "
                "text past the window is not embedded"
            )
        overlap = self.chunk_overlap if self.chunk_overlap is not None else default_chunk_overlap(size)
        return size, overlap, warnings

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def store_spec(self, collection: str = LOCAL_COLLECTION) -> StoreSpec:
        """Where the vectors go; `collection` names the Qdrant server collection."""
        return StoreSpec(self.store, self.url if self.store == "qdrant" else None, collection)


@dataclass
class RagBuild:
    """What a build did: counts, timings, embedding reuse and the index digest."""

    documents: int = 0
    chunks: int = 0
    chunk_size: int = 0
    chunk_overlap: int = 0
    digest: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    embed: EmbedStats = field(default_factory=EmbedStats)
    warnings: list[str] = field(default_factory=list)


def chunk_corpus(
    documents: Sequence[SourceDocument], settings: RagSettings, embedder: Embedder
) -> tuple[list[Chunk], int, int, list[str]]:
    size, overlap, warnings = settings.chunking(embedder)
    return chunk_documents(documents, size, overlap, embedder.tokenize), size, overlap, warnings


def embed_chunks(
    chunks: Sequence[Chunk], embedder: Embedder, cache_path: Path | None, progress: Progress | None = None
) -> tuple[Any, EmbedStats]:
    """Vectors for `chunks`, reusing every one already in the cache at `cache_path`."""
    cache = EmbeddingCache(cache_path) if cache_path is not None else None
    try:
        return embed_texts([chunk.embed_text() for chunk in chunks], embedder, cache, progress)
    finally:
        if cache is not None:
            cache.close()


def build_rag(
    root: Path,
    files: Iterable[str],
    persist_dir: Path,
    settings: RagSettings | None = None,
    text_field: str = "text",
    cache_path: Path | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> RagBuild:
    """Load, chunk, embed (through the per-chunk cache, default `<root>/.adapt/embeddings/`) and index."""
    settings = settings or RagSettings()
    store = settings.store_spec()
    require_store(store.kind)
    check_server(store)
    files = sorted(files)
    require_files(files, files)
    report = RagBuild()
    clock = time.perf_counter()
    loaded = load_documents(root, files, text_field)
    report.warnings += loaded.warnings()
    report.documents = len(loaded.documents)
    embedder = embedder or get_embedder(settings.embed_model)
    report.seconds["load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    chunks, report.chunk_size, report.chunk_overlap, warnings = chunk_corpus(
        loaded.documents, settings, embedder
    )
    report.warnings += warnings
    report.chunks = len(chunks)
    report.seconds["chunk"] = time.perf_counter() - clock
    clock = time.perf_counter()
    vectors, report.embed = embed_chunks(chunks, embedder, cache_path or root / EMBEDDING_CACHE, progress)
    report.seconds["embed"] = time.perf_counter() - clock
    clock = time.perf_counter()
    write_gaps(persist_dir, chunk_gaps(loaded.documents, chunks))
    report.digest = build_index(
        chunks, vectors, embedder, persist_dir, index_settings(settings, report), store
    )
    report.seconds["index"] = time.perf_counter() - clock
    return report


def chunk_gaps(documents: Sequence[SourceDocument], chunks: Sequence[Chunk]) -> dict[str, dict[str, str]]:
    """{path: {chunk end: source text up to the next chunk's start}} where neighbouring chunks do not overlap."""
    texts = {doc.path: doc.text for doc in documents}
    spans: dict[str, list[tuple[int, int]]] = {}
    for chunk in chunks:
        spans.setdefault(chunk.path, []).append((chunk.start, chunk.end))
    gaps: dict[str, dict[str, str]] = {}
    for path, pairs in spans.items():
        pairs.sort()
        for (_, end), (start, _) in itertools.pairwise(pairs):
            if end < start <= end + MAX_GAP:
                gaps.setdefault(path, {})[str(end)] = texts[path][end:start]
    return gaps


def write_gaps(persist_dir: Path, gaps: dict[str, dict[str, str]]) -> None:
    """Beside the index, so retrieval can join a hit's neighbouring chunks into one exact span."""
    persist_dir.mkdir(parents=True, exist_ok=True)
    (persist_dir / GAPS).write_text(json.dumps(gaps, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def index_settings(settings: RagSettings, build: RagBuild) -> dict[str, Any]:
    """What the index manifest records for query time."""
    return {
        "chunk_size": build.chunk_size,
        "chunk_overlap": build.chunk_overlap,
        "top_k": settings.top_k,
        "retriever": settings.retriever,
        "window": settings.window,
    }


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Deterministic JSONL (sorted keys, UTF-8, \\n endings); returns the row count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
