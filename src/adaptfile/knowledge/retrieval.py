"""Query a built index: vector or hybrid (BM25 + vector, score fusion) retrieval with citations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.errors import UsageError
from adaptfile.knowledge.embedders import Embedder, get_embedder
from adaptfile.knowledge.index import load_index, read_manifest

if TYPE_CHECKING:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import NodeWithScore

FUSION_DEPTH = 20  # candidates each retriever contributes to the fusion
# Relative-score fusion (min-max per retriever, weighted sum): on COVID-QA it beat reciprocal-rank fusion
# (hit@2 0.66 vs 0.53 over 300 questions) because MiniLM ranks far below BM25 there and RRF weighs ranks equally.
FUSION_MODE = "relative_score"
FUSION_WEIGHTS = (0.45, 0.55)  # vector, BM25


@dataclass(frozen=True)
class RetrievedChunk:
    """One retrieved chunk: `path:start-end` is its citation (character offsets into the source text)."""

    path: str
    start: int
    end: int
    score: float
    text: str

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def retrieval_result(question: str, chunks: list[RetrievedChunk]) -> dict[str, Any]:
    """The JSON shape `adapt ask --retrieve-only --json` prints for one question."""
    return {"question": question, "chunks": [chunk.to_json() for chunk in chunks]}


class Retriever:
    """A loaded index and embedder, reused across questions."""

    def __init__(
        self,
        index: VectorStoreIndex,
        top_k: int = 4,
        mode: str = "hybrid",
        embedder: Embedder | None = None,
    ) -> None:
        if mode not in ("vector", "hybrid"):
            raise UsageError(f"unknown retriever {mode!r}", hint='use "vector" or "hybrid"')
        self.index = index
        self.top_k = top_k
        self.mode = mode
        self.embedder = embedder
        self._bm25: Any = None

    @classmethod
    def load(
        cls,
        persist_dir: Path,
        top_k: int | None = None,
        mode: str | None = None,
        embedder: Embedder | None = None,
    ) -> Retriever:
        """Open an index written by the rag.index step, with the settings it was built with."""
        manifest = read_manifest(persist_dir)
        settings = manifest.get("settings", {})
        embedder = embedder or get_embedder(manifest["embed_model"])
        return cls(
            load_index(persist_dir, embedder),
            top_k=top_k or int(settings.get("top_k", 4)),
            mode=mode or settings.get("retriever", "hybrid"),
            embedder=embedder,
        )

    def retrieve(self, question: str, top_k: int | None = None) -> list[RetrievedChunk]:
        """The top-k chunks for `question`, best first."""
        k = top_k or self.top_k
        if self.mode == "vector":
            hits = self.index.as_retriever(similarity_top_k=k).retrieve(question)
        else:
            hits = self._fused(question, k)
        return [_as_chunk(hit) for hit in hits[:k]]

    def _fused(self, question: str, k: int) -> list[NodeWithScore]:
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever

        depth = max(k, FUSION_DEPTH)
        fusion = QueryFusionRetriever(
            [self.index.as_retriever(similarity_top_k=depth), self._bm25_retriever(depth)],
            llm=MockLLM(),
            mode=FUSION_MODE,
            retriever_weights=list(FUSION_WEIGHTS),
            similarity_top_k=k,
            num_queries=1,
            use_async=False,
        )
        return fusion.retrieve(question)

    def _bm25_retriever(self, depth: int) -> Any:
        if self._bm25 is None:
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = list(self.index.docstore.docs.values())
            self._bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(depth, len(nodes)))
        self._bm25.similarity_top_k = min(depth, len(self.index.docstore.docs))
        return self._bm25


def _as_chunk(hit: NodeWithScore) -> RetrievedChunk:
    node = hit.node
    meta = node.metadata
    return RetrievedChunk(
        path=meta["path"],
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=round(float(hit.score or 0.0), 6),
        text=node.get_content(),
    )


def find_index(root: Path) -> Path:
    """The index the last `adapt build` published under `root/build/` (the rag.index step's `index/`)."""
    from adaptfile.errors import ConfigError
    from adaptfile.knowledge.index import MANIFEST

    build = root / "build"
    found = sorted(build.rglob(MANIFEST)) if build.is_dir() else []
    if not found:
        raise ConfigError(
            f"no built RAG index under {build}",
            hint="run `adapt build` (the plan needs [data.knowledge] and RAG chosen), or pass --index DIR",
        )
    preferred = [path for path in found if "rag.index" in path.as_posix()]
    return (preferred or found)[0].parent
