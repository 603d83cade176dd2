"""Step rag.index: embed chunks through the per-chunk cache and persist a llama-index index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import StepFailed

if TYPE_CHECKING:
    from adaptfile.knowledge.embedders import Embedder


def find_upstream(ctx: StepContext, name: str) -> Path:
    """The upstream output called `name`, whatever the plan named the step that wrote it."""
    for step_id in sorted(ctx.upstream):
        path = ctx.upstream_output(step_id, name)
        if path.exists():
            return path
    raise StepFailed(
        f"step '{ctx.step_id}' needs {name} from an upstream step, and none of {sorted(ctx.upstream)} wrote it",
        hint="this is a plan bug: the step must depend on the step that writes it",
    )


class RagIndex:
    """index/: llama-index StorageContext files plus adapt_index.json; vectors cached in .adapt/embeddings/."""

    name = "rag.index"
    version = "2"  # 2: faiss and Qdrant stores, the BM25 index persisted in index/bm25/
    params = (
        "rag.embed_model",
        "rag.embed_revision",
        "rag.store",
        "rag.url",  # with project.name, only when the vectors go to a Qdrant server
        "project.name",
        "rag.top_k",
        "rag.retriever",
        "rag.window",
    )
    outputs = ("index/",)
    packages = ("llama-index-core", "sentence-transformers", "torch")

    def run(self, ctx: StepContext) -> None:
        import json

        from adaptfile.knowledge.chunking import Chunk
        from adaptfile.knowledge.embedders import get_embedder
        from adaptfile.knowledge.pipeline import (
            EMBEDDING_CACHE,
            RagSettings,
            index_chunks,
            iter_jsonl,
            write_gaps,
        )
        from adaptfile.knowledge.stores import check_server, collection_name, require_store, scale_warnings

        settings = RagSettings.from_params(ctx.params)
        store = settings.store_spec(collection_name(ctx.params.get("project.name", "adapt"), ctx.key))
        require_store(store.kind)
        check_server(store)  # before anything is embedded or cached
        chunks_file = find_upstream(ctx, "chunks.jsonl")
        with chunks_file.open(encoding="utf-8") as handle:
            total = sum(1 for line in handle if line.strip())
        chunking = json.loads(find_upstream(ctx, "chunking.json").read_text(encoding="utf-8"))
        embedder = _tuned_embedder(ctx) or get_embedder(
            settings.embed_model, ctx.params.get("rag.embed_revision"), ctx.root
        )
        recorded = {
            "chunk_size": chunking.get("chunk_size"),
            "chunk_overlap": chunking.get("chunk_overlap"),
            "top_k": settings.top_k,
            "retriever": settings.retriever,
            "window": settings.window,
        }
        gaps = json.loads(find_upstream(ctx, "gaps.json").read_text(encoding="utf-8"))
        write_gaps(ctx.output("index"), gaps)
        ctx.progress(0, total, f"embedding {total} chunks with {embedder.id}")
        # chunks read, embedded and indexed a batch at a time: the corpus is never held whole
        chunks = (Chunk.from_json(row) for row in iter_jsonl(chunks_file))
        digest, stats = index_chunks(
            chunks,
            embedder,
            ctx.output("index"),
            recorded,
            store,
            ctx.root / EMBEDDING_CACHE,
            ctx.progress,
            total,
        )
        ctx.log(stats.summary())
        for warning in scale_warnings(store, total):
            ctx.log(f"warning: {warning}")
        ctx.log(f"index of {total} chunks written, digest {digest}")


def _tuned_embedder(ctx: StepContext) -> Embedder | None:
    """The model rag.embedder tuned, when this index depends on it: loaded from its published directory
    (the index manifest records that path for query time); its revision is the digest of the tuned weights,
    so the per-chunk embedding cache never mixes its vectors with the base model's."""
    from adaptfile.knowledge.embedders import get_embedder
    from adaptfile.steps.rag_embedder import TUNED_DIR

    for step_id in sorted(ctx.upstream):
        tuned = ctx.upstream_output(step_id, TUNED_DIR)
        if tuned.is_dir():
            return get_embedder(str(tuned.resolve()))
    return None


kind = RagIndex()
