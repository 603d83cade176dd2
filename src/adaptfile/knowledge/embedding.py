"""Embed chunks through a per-chunk cache keyed by text + embedder id + revision, reporting throughput."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adaptfile.knowledge.embedders import Embedder

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[float, "float | None", str], None]
CACHE_SCHEMA = 1
GROUP = 256  # texts per encode call between progress reports


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
    count_tokens: bool = True,
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for `texts` in order (L2-normalised float32); only texts missing from `cache` are embedded."""
    import numpy as np

    stats = EmbedStats(total=len(texts))
    keys = [embedding_key(embedder, text) for text in texts]
    stored = cache.get_many(keys) if cache is not None else {}
    vectors = np.zeros((len(texts), embedder.dims), dtype=np.float32)
    missing: dict[str, int] = {}
    for row, key in enumerate(keys):
        if key in stored:
            vectors[row] = np.frombuffer(stored[key], dtype=np.float32)
        else:
            missing.setdefault(key, row)
    stats.reused = sum(key in stored for key in keys)
    # Longest first, as sentence-transformers sorts inside each call, so groups batch as well as one call.
    todo = sorted(missing.items(), key=lambda item: -len(texts[item[1]]))
    started = time.perf_counter()
    for start in range(0, len(todo), GROUP):
        group = todo[start : start + GROUP]
        batch = [texts[row] for _, row in group]
        out = embedder.embed(batch)
        for (_, row), vector in zip(group, out, strict=True):
            vectors[row] = vector
        if cache is not None:
            cache.put_many([(key, embedder.dims, out[i].tobytes()) for i, (key, _) in enumerate(group)])
        stats.embedded += len(group)
        if progress is not None:
            progress(
                stats.embedded, len(todo), _rate(stats.embedded, len(todo), time.perf_counter() - started)
            )
    stats.seconds = time.perf_counter() - started
    if count_tokens and todo:
        stats.tokens = sum(min(embedder.count_tokens(texts[row]), embedder.text_window) for _, row in todo)
    for row, key in enumerate(keys):  # duplicates of a text embedded in this pass
        first = missing.get(key)
        if first is not None and first != row:
            vectors[row] = vectors[first]
    return vectors, stats


def _rate(done: int, total: int, seconds: float) -> str:
    per_second = done / seconds if seconds else 0.0
    eta = (total - done) / per_second if per_second else 0.0
    return f"embedding: {done}/{total} chunks, {per_second:.1f} chunks/s, ETA {eta:.0f}s"
