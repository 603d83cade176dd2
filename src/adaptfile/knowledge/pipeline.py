"""The RAG build as one library call: settings from `rag.*` params, then load → chunk → embed → index."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.knowledge.chunking import (
    Chunk,
    chunk_documents,
    default_chunk_overlap,
    default_chunk_size,
    iter_chunks,
)
from adaptfile.knowledge.documents import LoadResult, SourceDocument, iter_documents, require_files
from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, Embedder, get_embedder
from adaptfile.knowledge.embedding import STREAM_BATCH, EmbeddingCache, EmbeddingPass, EmbedStats, Progress
from adaptfile.knowledge.index import build_index, index_digest
from adaptfile.knowledge.stores import (
    LOCAL_COLLECTION,
    StoreSpec,
    check_server,
    require_store,
    scale_warnings,
)

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


def stream_chunks(
    documents: Iterable[SourceDocument],
    size: int,
    overlap: int,
    tokenize: Callable[[str], list[Any]],
    gaps: dict[str, dict[str, str]],
) -> Iterator[Chunk]:
    """Every document's chunks as it is cut, its gaps (see `chunk_gaps`) added to `gaps` meanwhile: only one
    document and its chunks are held at a time."""
    for doc in documents:
        chunks = list(iter_chunks([doc], size, overlap, tokenize))
        gaps.update(chunk_gaps([doc], chunks))
        yield from chunks


def index_chunks(
    chunks: Iterable[Chunk],
    embedder: Embedder,
    persist_dir: Path,
    settings: dict[str, Any],
    store: StoreSpec,
    cache_path: Path | None,
    progress: Progress | None = None,
    total: int | None = None,
) -> tuple[str, EmbedStats]:
    """Embed `chunks` through the per-chunk cache at `cache_path`, STREAM_BATCH at a time, each batch handed
    straight to `build_index`: no list of all chunks or all vectors is ever made. Returns (digest, stats)."""
    cache = EmbeddingCache(cache_path) if cache_path is not None else None
    try:
        with EmbeddingPass(embedder, cache, progress, total) as embedding:
            # build_index takes chunks and vectors side by side: tee buffers the one pair between them
            for_chunks, for_vectors = itertools.tee(_embedded(chunks, embedding))
            digest = build_index(
                (chunk for chunk, _ in for_chunks),
                (vector for _, vector in for_vectors),
                embedder,
                persist_dir,
                settings,
                store,
            )
        return digest, embedding.stats
    finally:
        if cache is not None:
            cache.close()


def _embedded(chunks: Iterable[Chunk], embedding: EmbeddingPass) -> Iterator[tuple[Chunk, Any]]:
    iterator = iter(chunks)
    while batch := list(itertools.islice(iterator, STREAM_BATCH)):
        yield from zip(batch, embedding.vectors([chunk.embed_text() for chunk in batch]), strict=True)


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
    """Load, chunk, embed (through the per-chunk cache, default `<root>/.adapt/embeddings/`) and index, one
    document and one batch of chunks at a time (`index_chunks`); only the gaps between chunks are kept."""
    settings = settings or RagSettings()
    store = settings.store_spec()
    require_store(store.kind)
    check_server(store)
    files = sorted(files)
    require_files(files, files)
    report = RagBuild()
    started = clock = time.perf_counter()
    embedder = embedder or get_embedder(settings.embed_model)
    setup = time.perf_counter() - clock
    report.chunk_size, report.chunk_overlap, chunk_warnings = settings.chunking(embedder)
    skipped: list[tuple[str, str]] = []
    gaps: dict[str, dict[str, str]] = {}
    documents = _Timed(iter_documents(root, files, text_field, skipped=skipped))
    chunks = _Timed(
        stream_chunks(documents, report.chunk_size, report.chunk_overlap, embedder.tokenize, gaps)
    )
    _, report.embed = index_chunks(
        chunks,
        embedder,
        persist_dir,
        index_settings(settings, report),
        store,
        cache_path or root / EMBEDDING_CACHE,
        progress,
    )
    write_gaps(persist_dir, gaps)
    report.digest = index_digest(persist_dir)  # again: the gaps are known only once every chunk is cut
    report.documents, report.chunks = documents.count, chunks.count
    report.warnings += LoadResult(skipped=skipped).warnings() + chunk_warnings
    report.warnings += scale_warnings(store, report.chunks)
    report.seconds["load"] = setup + documents.seconds
    report.seconds["chunk"] = chunks.seconds - documents.seconds
    report.seconds["embed"] = report.embed.seconds
    report.seconds["index"] = time.perf_counter() - started - sum(report.seconds.values())
    return report


class _Timed:
    """An iterator that counts its items and the seconds spent producing them."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = iter(items)
        self.count = 0
        self.seconds = 0.0

    def __iter__(self) -> _Timed:
        return self

    def __next__(self) -> Any:
        clock = time.perf_counter()
        try:
            item = next(self._items)
        finally:
            self.seconds += time.perf_counter() - clock
        self.count += 1
        return item


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
    return list(iter_jsonl(path))


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL file, read one line at a time."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
