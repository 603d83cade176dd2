"""The example index: embedded example inputs for "similar" shot selection at query time."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adaptfile.errors import ConfigError
from adaptfile.icl.records import Record, normal_text, read_records, write_records
from adaptfile.icl.select import nearest
from adaptfile.knowledge.embedders import Embedder, recorded_embedder

INDEX_SCHEMA = 1
EMBEDDING_CACHE = Path(".adapt") / "embeddings" / "vectors.sqlite"  # shared with rag.index


def embed(
    texts: Sequence[str],
    embedder: Embedder,
    root: Path | None = None,
    progress: Callable[[float, float | None, str], None] | None = None,
) -> np.ndarray:
    """L2-normalised vectors for `texts`, reusing the project's embedding cache when `root` is given."""
    from adaptfile.knowledge.embedding import EmbeddingCache, embed_texts

    cache = EmbeddingCache(root / EMBEDDING_CACHE) if root is not None else None
    try:
        vectors, _ = embed_texts(list(texts), embedder, cache, progress)
    finally:
        if cache is not None:
            cache.close()
    return vectors


@dataclass
class ExampleIndex:
    """Records and the embeddings of their inputs; `similar` finds a question's nearest examples."""

    records: list[Record]
    vectors: np.ndarray
    embed_model: str
    revision: str

    def __post_init__(self) -> None:
        self._normal: dict[str, list[int]] = {}
        for row, record in enumerate(self.records):
            self._normal.setdefault(normal_text(record.input), []).append(row)

    @classmethod
    def build(cls, records: list[Record], embedder: Embedder, root: Path | None = None) -> ExampleIndex:
        vectors = embed([r.input for r in records], embedder, root)
        return cls(records, vectors, embedder.id, embedder.revision)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "vectors.npy", self.vectors.astype(np.float32), allow_pickle=False)
        write_records(directory / "records.jsonl", self.records)
        meta = {
            "schema": INDEX_SCHEMA,
            "embed_model": self.embed_model,
            "revision": self.revision,
            "rows": len(self.records),
            "dims": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
        }
        (directory / "index.json").write_text(
            json.dumps(meta, sort_keys=True, indent=2) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> ExampleIndex:
        try:
            meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
            if meta.get("schema") != INDEX_SCHEMA:
                raise ValueError(f"schema {meta.get('schema')}, expected {INDEX_SCHEMA}")
            vectors = np.load(directory / "vectors.npy", allow_pickle=False)
            records = read_records(directory / "records.jsonl")
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(
                f"{directory}: the example index is unreadable ({err})",
                hint="rebuild it: `adapt build icl.shots`",
            ) from None
        return cls(records, vectors, meta["embed_model"], meta["revision"])

    def similar(self, question: str, k: int, embedder: Embedder | None = None) -> list[Record]:
        """The k examples nearest to `question`, nearest first; an example never serves as its own shot."""
        embedder = embedder or recorded_embedder(self.embed_model, self.revision)
        query = embed([question], embedder)[0]
        own = self._normal.get(normal_text(question), [])
        return [self.records[i] for i in nearest(self.vectors, query, k, own)]

    def similar_many(
        self, questions: Sequence[str], k: int, embedder: Embedder | None = None
    ) -> list[list[int]]:
        """Row indices of the k nearest examples for each question (batched embedding; benchmarks, eval)."""
        embedder = embedder or recorded_embedder(self.embed_model, self.revision)
        queries = embed(list(questions), embedder)
        return [
            nearest(self.vectors, query, k, self._normal.get(normal_text(q), []))
            for q, query in zip(questions, queries, strict=True)
        ]
