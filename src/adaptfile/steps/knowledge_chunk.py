"""Step knowledge.chunk: chunks cut between whole sentences, lines and code blocks, sized to the embedder's window, with path and character span."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext


class KnowledgeChunk:
    """chunks.jsonl ({id, path, start, end, text, title}) and chunking.json (the sizes actually used)."""

    name = "knowledge.chunk"
    version = "2"  # 2: boundaries never inside commands, paths, URLs or code; headings start chunks
    params = ("rag.chunk_size", "rag.chunk_overlap", "rag.embed_model", "rag.embed_revision")
    outputs = ("chunks.jsonl", "chunking.json", "gaps.json")
    packages = ("llama-index-core", "sentence-transformers", "tokenizers")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.knowledge.documents import SourceDocument
        from adaptfile.knowledge.embedders import get_embedder
        from adaptfile.knowledge.pipeline import (
            RagSettings,
            chunk_corpus,
            chunk_gaps,
            read_jsonl,
            write_jsonl,
        )
        from adaptfile.steps.rag_index import find_upstream

        rows = read_jsonl(find_upstream(ctx, "documents.jsonl"))
        documents = [SourceDocument(r["path"], r["text"], r.get("title")) for r in rows]
        settings = RagSettings.from_params(ctx.params)
        embedder = get_embedder(settings.embed_model, ctx.params.get("rag.embed_revision"), ctx.root)
        chunks, size, overlap, warnings = chunk_corpus(documents, settings, embedder)
        for warning in warnings:
            ctx.log(f"warning: {warning}")
        write_jsonl(ctx.output("chunks.jsonl"), (chunk.to_json() for chunk in chunks))
        # the text between neighbouring chunks, so retrieval can widen a hit into an exact span
        gaps = json.dumps(chunk_gaps(documents, chunks), sort_keys=True, ensure_ascii=False)
        ctx.output("gaps.json").write_text(gaps + "\n", encoding="utf-8")
        info = {
            "chunk_size": size,
            "chunk_overlap": overlap,
            "embed_model": embedder.id,
            "window": embedder.window,
        }
        ctx.output("chunking.json").write_text(
            json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        ctx.log(f"{len(chunks)} chunks of ≤{size} tokens (overlap {overlap}) from {len(documents)} documents")


kind = KnowledgeChunk()
