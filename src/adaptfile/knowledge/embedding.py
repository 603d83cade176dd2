"""Embed chunks through a per-chunk cache (text + embedder id + revision) in token-length-sorted batches, on the GPU or a CPU pool."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.knowledge.embedders import Embedder

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[float, "float | None", str], None]
CACHE_SCHEMA = 1
GROUP = 256  # texts per encode call between progress reports (per worker, with a pool)
# Texts per forward pass. Texts go in by token count, so a pass pads its texts to nearly one length. On CPUs a
# small pass is fastest: on 768 COVID-QA chunks (2 cores, medians of 3), 16 ran 1.18x the chunks/s of
# SentenceTransformer.encode's defaults (32 a pass, sorted by characters), 8 the same, 32 1.04x, 64 0.98x.
CPU_BATCH = 16
GPU_BATCH = 64
# A pool starts one model copy per process (seconds each): worth it only for a long pass, and only with
# more than 2 cores (2 torch threads in one process already use both).
POOL_MIN_TEXTS = 2048
POOL_THREADS = 2  # torch threads per pool worker: cores // POOL_THREADS workers
# Texts a streamed build looks up and embeds together: at least POOL_MIN_TEXTS, so a long pass gets its pool,
# and few enough that one batch's texts and vectors stay a few MB.
STREAM_BATCH = 8192


def embedding_key(embedder: Embedder, text: str) -> str:
    """The cache key of one embedded text: sha256 of canonical JSON of (schema, model id, revision, text)."""
    canonical = json.dumps([CACHE_SCHEMA, embedder.id, embedder.revision, text], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class EmbeddingCache:
    """Vectors by embedding key in one SQLite file (safe for concurrent builds, atomic per batch)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dims INTEGER, data BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, data in self._db.execute(f"SELECT key, data FROM vectors WHERE key IN ({marks})", part):
                found[key] = data
        return found

    def put_many(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


@dataclass
class EmbedStats:
    """What one embedding pass did: texts reused from the cache, texts embedded, tokens and seconds."""

    total: int = 0
    reused: int = 0
    embedded: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.total} chunks: {self.reused} from the embedding cache, {self.embedded} embedded "
            f"in {self.seconds:.1f}s ({self.tokens_per_second:,.0f} tokens/s)"
        )


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for `texts` in order (L2-normalised float32); only texts missing from `cache` are embedded."""
    with EmbeddingPass(embedder, cache, progress, total=len(texts)) as embedding:
        vectors = embedding.vectors(texts)
    return vectors, embedding.stats


class EmbeddingPass:
    """One embedding pass over texts given batch by batch (`vectors`), so a corpus is never held whole: each
    batch's cached vectors are read, the rest embedded longest first and cached, and the stats and progress
    run over the whole pass. A text repeated within the pass is embedded once (a later batch finds it in the
    cache). The encoder (a process pool, the GPU) starts with the first batch that has texts to embed and is
    sized by it. `total`, the pass's text count when known, gives progress its ETA."""

    def __init__(
        self,
        embedder: Embedder,
        cache: EmbeddingCache | None = None,
        progress: Progress | None = None,
        total: int | None = None,
    ) -> None:
        self.embedder = embedder
        self.cache = cache
        self.progress = progress
        self.total = total
        self.stats = EmbedStats()
        # keys embedded in this pass: a repeat of one is neither reused nor embedded again
        self._embedded: set[str] = set()
        self._encoder: Encoder | None = None
        self._encoding = ExitStack()  # the encoder's pool or GPU, released when the pass ends
        self._started = time.perf_counter()

    def __enter__(self) -> EmbeddingPass:
        return self

    def __exit__(self, *exc: object) -> None:
        self._encoding.close()
        self._encoder = None

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch of `texts`, in order."""
        import numpy as np

        embedder, stats = self.embedder, self.stats
        done = stats.total
        stats.total += len(texts)
        keys = [embedding_key(embedder, text) for text in texts]
        stored = self.cache.get_many(keys) if self.cache is not None else {}
        vectors = np.zeros((len(texts), embedder.dims), dtype=np.float32)
        missing: dict[str, int] = {}
        for row, key in enumerate(keys):
            if key in stored:
                vectors[row] = np.frombuffer(stored[key], dtype=np.float32)
            else:
                missing.setdefault(key, row)
        reused = sum(key in stored and key not in self._embedded for key in keys)
        stats.reused += reused
        done += reused
        # Most tokens first, so each forward pass holds texts of nearly one length (padding is most of the CPU
        # cost on mixed lengths; sentence-transformers sorts by characters, and chunks cut by tokens vary widely
        # in characters) and the progress rate is honest from the start.
        window = embedder.text_window
        lengths = {row: min(embedder.count_tokens(texts[row]), window) for row in missing.values()}
        todo = sorted(missing.items(), key=lambda item: -lengths[item[1]])
        started = time.perf_counter()
        encoder = self._encoder_for(len(todo)) if todo else None
        step = GROUP * (encoder.workers if encoder is not None else 1)
        for start in range(0, len(todo), step):
            group = todo[start : start + step]
            out = encoder.encode([texts[row] for _, row in group])
            for (_, row), vector in zip(group, out, strict=True):
                vectors[row] = vector
            if self.cache is not None:
                self.cache.put_many(
                    [(key, embedder.dims, out[i].tobytes()) for i, (key, _) in enumerate(group)]
                )
            self._embedded.update(key for key, _ in group)
            stats.embedded = len(self._embedded)
            done += len(group)
            self._report(done)
        stats.seconds += time.perf_counter() - started
        stats.tokens += sum(lengths.values())
        for row, key in enumerate(keys):  # repeats of a text embedded in this batch
            first = missing.get(key)
            if first is not None and first != row:
                vectors[row] = vectors[first]
        if texts and (done != stats.total or not todo):  # repeats, or a batch read whole from the cache
            self._report(stats.total)
        return vectors

    def _encoder_for(self, count: int) -> Encoder:
        """Started with the first batch that has work, sized by the whole pass where its total is known
        (a mostly cached first batch must not pin thousands of later chunks to one worker)."""
        if self._encoder is None:
            size = max(count, self.total or 0)
            self._encoder = self._encoding.enter_context(Encoder(self.embedder, size))
        return self._encoder

    def _report(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, self.total, _rate(done, self.total, time.perf_counter() - self._started))


def _rate(done: int, total: int | None, seconds: float) -> str:
    per_second = done / seconds if seconds else 0.0
    if total is None:
        return f"embedding: {done} chunks, {per_second:.1f} chunks/s"
    eta = (total - done) / per_second if per_second else 0.0
    return f"embedding: {done}/{total} chunks, {per_second:.1f} chunks/s, ETA {eta:.0f}s"


class Encoder:
    """Encodes length-sorted groups on the best device: the GPU when torch sees one, else a process pool
    (sentence-transformers' multi-process API) on machines with more than 2 cores and enough texts, else
    the embedder in this process. Embedders without a sentence-transformers model always embed in-process."""

    def __init__(self, embedder: Embedder, count: int, workers: int | None = None) -> None:
        self.embedder = embedder
        self.model = getattr(embedder, "model", None)
        self.workers = 1
        self.device = "cpu"
        self.batch = CPU_BATCH
        self._pool: Any = None
        if self.model is None or count == 0:
            return
        if _cuda_available():
            self.device = "cuda"
            self.batch = GPU_BATCH
        else:
            self.workers = workers if workers is not None else pool_workers(count)

    def __enter__(self) -> Encoder:
        if self.device == "cuda" and str(self.model.device) == "cpu":
            self.model.to("cuda")  # stays there: queries in this process then embed on the GPU too
        if self.workers > 1:
            self._pool = _start_pool(self.model, self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self.model.stop_multi_process_pool(self._pool)
            self._pool = None

    def encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if self._pool is None:
            # One call per forward pass: encode's own sort (by characters) then only reorders within it.
            parts = range(0, len(texts), self.batch)
            return np.concatenate([self.embedder.embed(texts[i : i + self.batch], self.batch) for i in parts])
        vectors = self.model.encode(
            texts,
            pool=self._pool,
            batch_size=self.batch,
            chunk_size=self.batch,  # one length-sorted batch per task, spread over the workers
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.embedder.dims)


def pool_workers(count: int, cores: int | None = None) -> int:
    """Processes for embedding `count` texts on `cores` CPU cores (1: no pool)."""
    cores = cores or _usable_cores()
    if cores <= 2 or count < POOL_MIN_TEXTS:
        return 1
    return max(cores // POOL_THREADS, 1)


def _start_pool(model: Any, workers: int) -> Any:
    """The pool's spawned workers read OMP_NUM_THREADS when they import torch: it is set only while they
    start (each gets POOL_THREADS threads instead of one per core, which would oversubscribe the CPU),
    then restored, so this process's environment is unchanged."""
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(POOL_THREADS)
    try:
        return model.start_multi_process_pool(target_devices=["cpu"] * workers)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
