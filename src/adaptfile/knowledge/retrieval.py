"""Query a built index: vector or hybrid (BM25 + vector) scoring of small chunks, returned with their neighbours."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.errors import UsageError
from adaptfile.knowledge.embedders import Embedder, recorded_embedder
from adaptfile.knowledge.index import BM25_DIR, load_index, read_manifest
from adaptfile.knowledge.pipeline import GAPS

if TYPE_CHECKING:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import NodeWithScore

FUSION_DEPTH = 20  # candidates each retriever contributes to the fusion
# Relative-score fusion (min-max per retriever, weighted sum): on COVID-QA it beat reciprocal-rank fusion
# (hit@2 0.66 vs 0.53 over 300 questions) because MiniLM ranks far below BM25 there and RRF weighs ranks equally.
FUSION_MODE = "relative_score"
FUSION_WEIGHTS = (0.45, 0.55)  # vector, BM25
# Small-to-big: chunks are scored at the embedder's size, and each hit is returned with WINDOW neighbouring
# chunks of the same document on each side (merged into one exact span; chunks already returned are not repeated).
# Chosen on COVID-QA dev questions (disjoint from the reported sample): hybrid hit@2 0.613 / 0.683 / 0.710 at
# ±0 / ±1 / ±2 chunks, i.e. 368 / 1039 / 1667 prompt tokens for 2 passages (llama-index's default: 1871).
WINDOW = 2
Span = tuple[int, int, str]  # start, end, text


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


MODES = ("vector", "hybrid", "keyword")  # rag.retriever: dense, fused, or BM25 alone


class Retriever:
    """A loaded index and embedder, reused across questions."""

    def __init__(
        self,
        index: VectorStoreIndex,
        top_k: int = 4,
        mode: str = "hybrid",
        embedder: Embedder | None = None,
        window: int = WINDOW,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown retriever {mode!r}", hint='use "vector", "hybrid" or "keyword"')
        self.index = index
        self.top_k = top_k
        self.mode = mode
        self.embedder = embedder
        self.window = max(0, window)
        self._bm25: Any = None
        self._neighbours: Neighbours | None = None
        self.gaps: dict[str, dict[str, str]] = {}

    @classmethod
    def load(
        cls,
        persist_dir: Path,
        top_k: int | None = None,
        mode: str | None = None,
        embedder: Embedder | None = None,
        window: int | None = None,
    ) -> Retriever:
        """Open an index written by the rag.index step, with the settings it was built with."""
        manifest = read_manifest(persist_dir)
        settings = manifest.get("settings", {})
        embedder = embedder or recorded_embedder(manifest["embed_model"], manifest.get("embed_revision"))
        retriever = cls(
            load_index(persist_dir, embedder),
            top_k=top_k or int(settings.get("top_k", 4)),
            mode=mode or settings.get("retriever", "hybrid"),
            embedder=embedder,
            window=int(settings.get("window", WINDOW)) if window is None else window,
        )
        bm25 = persist_dir / BM25_DIR
        if bm25.is_dir():  # built with the index; older indexes have none and build it on first use
            from llama_index.retrievers.bm25 import BM25Retriever

            retriever._bm25 = BM25Retriever.from_persist_dir(str(bm25), show_progress=False)
        gaps = persist_dir / GAPS
        if gaps.is_file():  # older indexes have none: their passages stop where chunks do not overlap
            retriever.gaps = json.loads(gaps.read_text(encoding="utf-8"))
        return retriever

    def retrieve(self, question: str, top_k: int | None = None) -> list[RetrievedChunk]:
        """The top-k passages for `question`, best first: each a hit chunk widened by `window` neighbours."""
        k = top_k or self.top_k
        depth = k if not self.window else max(k, FUSION_DEPTH)  # spare hits replace ones already returned
        if self.mode == "vector":
            hits = self._vector_retriever(depth).retrieve(question)
        elif self.mode == "keyword":
            hits = self._bm25_retriever(depth).retrieve(question)
        else:
            hits = self._fused(question, depth)
        if not self.window:
            return [_as_chunk(hit) for hit in hits[:k]]
        if self._neighbours is None:
            self._neighbours = Neighbours(self.index.docstore.docs.values(), self.gaps)
        return self._neighbours.expand(hits, k, self.window)

    def _fused(self, question: str, k: int) -> list[NodeWithScore]:
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever

        depth = max(k, FUSION_DEPTH)
        fusion = QueryFusionRetriever(
            [self._vector_retriever(depth), self._bm25_retriever(depth)],
            llm=MockLLM(),
            mode=FUSION_MODE,
            retriever_weights=list(FUSION_WEIGHTS),
            similarity_top_k=k,
            num_queries=1,
            use_async=False,
        )
        return fusion.retrieve(question)

    def _vector_retriever(self, depth: int) -> Any:
        """Over every node without naming them: `index.as_retriever()` passes all node ids as a filter,
        which embedded Qdrant checks point by point (1.7 s a question at 5,000 chunks)."""
        from llama_index.core.indices.vector_store.retrievers import VectorIndexRetriever

        return VectorIndexRetriever(self.index, similarity_top_k=depth)

    def _bm25_retriever(self, depth: int) -> Any:
        if self._bm25 is None:
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = list(self.index.docstore.docs.values())
            self._bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(depth, len(nodes)))
        # its own document count: `docstore.docs` would deserialise every node on each question
        self._bm25.similarity_top_k = min(depth, int(self._bm25.bm25.scores["num_docs"]))
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


class Neighbours:
    """Each document's chunks in order, to widen a hit into an exact span with the chunks around it."""

    def __init__(self, nodes: Any, gaps: dict[str, dict[str, str]] | None = None) -> None:
        self.gaps = gaps or {}
        self.by_path: dict[str, list[Span]] = {}
        for node in nodes:
            meta = node.metadata
            span = (int(meta["start"]), int(meta["end"]), node.get_content())
            self.by_path.setdefault(meta["path"], []).append(span)
        self.position: dict[tuple[str, int, int], int] = {}
        for path, spans in self.by_path.items():
            spans.sort()
            self.position.update({(path, start, end): i for i, (start, end, _) in enumerate(spans)})

    def expand(self, hits: list[NodeWithScore], k: int, window: int) -> list[RetrievedChunk]:
        """Up to k passages: each hit with `window` chunks either side, no chunk returned twice."""
        used: dict[str, set[int]] = {}
        out: list[RetrievedChunk] = []
        for hit in hits:
            chunk = _as_chunk(hit)
            spans = self.by_path.get(chunk.path, [])
            i = self.position.get((chunk.path, chunk.start, chunk.end))
            taken = used.setdefault(chunk.path, set())
            if i is None or i in taken:
                continue
            gaps = self.gaps.get(chunk.path, {})
            lo, hi = self.span(spans, i, window, taken, gaps)
            taken.update(range(lo, hi + 1))
            start, end, text = stitch(spans[lo : hi + 1], gaps)
            out.append(RetrievedChunk(chunk.path, start, end, chunk.score, text))
            if len(out) == k:
                break
        return out

    @staticmethod
    def span(
        spans: list[Span], i: int, window: int, taken: set[int], gaps: dict[str, str] | None = None
    ) -> tuple[int, int]:
        """Chunk positions lo..hi around i: at most `window` each side, joined in the text, none taken."""
        lo = hi = i
        while i - lo < window and lo > 0 and lo - 1 not in taken and _joined(spans[lo - 1], spans[lo], gaps):
            lo -= 1
        while (
            hi - i < window
            and hi + 1 < len(spans)
            and hi + 1 not in taken
            and _joined(spans[hi], spans[hi + 1], gaps)
        ):
            hi += 1
        return lo, hi


def _joined(left: Span, right: Span, gaps: dict[str, str] | None) -> bool:
    """Whether `right` overlaps or touches `left`, or the source text between them is known."""
    return right[0] <= left[1] or len((gaps or {}).get(str(left[1]), "")) == right[0] - left[1]


def stitch(spans: list[Span], gaps: dict[str, str] | None = None) -> Span:
    """(start, end, text) of consecutive spans (each `text == source[start:end]`) joined through known gaps."""
    start, end, text = spans[0]
    for s, e, t in spans[1:]:
        if s > end:
            between = (gaps or {}).get(str(end))
            if between is None or len(between) != s - end:
                raise ValueError(f"chunks {start}-{end} and {s}-{e} are not contiguous")
            text, end = text + between, s
        if e > end:
            text += t[end - s :]
            end = e
    return start, end, text


def find_index(root: Path) -> Path:
    """The index the last `adapt build` published under `root/build/` (the rag.index step's `index/`)."""
    from adaptfile.errors import NotBuilt
    from adaptfile.knowledge.index import MANIFEST

    build = root / "build"
    published = build / "rag.index" / "index"  # where the build publishes the rag.index step
    if (published / MANIFEST).is_file():
        return published
    found = sorted(build.glob(f"*/**/{MANIFEST}")) if build.is_dir() else []
    if not found:
        raise NotBuilt(
            f"no built RAG index under {build}",
            hint="run `adapt build` (the plan needs [data.knowledge] and RAG chosen), or pass --index DIR",
        )
    preferred = [path for path in found if "rag.index" in path.as_posix()]
    return (preferred or found)[0].parent
