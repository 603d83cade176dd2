"""Step rag.embedder: fine-tune the embedding model on (question, gold chunk, BM25 hard negative) triples."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import StepFailed
from adaptfile.steps.rag_index import find_upstream

TUNED_DIR = "embedder"  # a plain sentence-transformers directory: SentenceTransformer(path) loads it


class RagEmbedder:
    """embedder/: the tuned model; report.json: pairs used, how gold chunks were found, unknown sources."""

    name = "rag.embedder"
    version = "1"
    params = (
        "rag.embed_model",
        "rag.embed_revision",
        "rag.tune.epochs",
        "rag.tune.batch_size",
        "rag.tune.learning_rate",
        "project.seed",
    )
    outputs = (f"{TUNED_DIR}/", "report.json")
    packages = ("sentence-transformers", "datasets", "torch", "bm25s")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.icl.records import Record
        from adaptfile.knowledge.chunking import Chunk
        from adaptfile.knowledge.embedders import resolve_model_path
        from adaptfile.knowledge.pipeline import read_jsonl
        from adaptfile.knowledge.tuning import Question, training_set, tune_embedder

        p = ctx.params
        chunks = [Chunk.from_json(row) for row in read_jsonl(find_upstream(ctx, "chunks.jsonl"))]
        records = [Record.from_json(row) for row in read_jsonl(find_upstream(ctx, "examples.jsonl"))]
        questions = [Question(r.input, r.source, r.output or None) for r in records if r.source]
        data = training_set(questions, chunks)
        report = {"examples": len(records), "with_source": len(questions), **data.to_json()}
        for source, rows in sorted(data.unknown_sources.items()):
            ctx.log(f"source {source!r} ({rows} rows) names no document in [data.knowledge]: skipped")
        if not data:
            raise StepFailed(
                f"rag.embedder: none of the {len(questions)} examples naming a source names a document of "
                f"[data.knowledge] ({len(data.unknown_sources)} unknown sources, e.g. "
                f"{', '.join(sorted(data.unknown_sources)[:3])})",
                hint='make each "source" a path under data.knowledge.paths (e.g. "docs/faq.md"), or add '
                '"embedder" to strategy.exclude',
            )
        ctx.log(
            f"{len(data)} training pairs: answer text found in the gold chunk for {data.answer_found}, "
            f"the document's best BM25 chunk for {data.bm25_fallback}"
        )
        base, _ = resolve_model_path(p["rag.embed_model"], p.get("rag.embed_revision"), ctx.root)
        stats = tune_embedder(
            base,
            data,
            ctx.output(TUNED_DIR),
            seed=int(p.get("project.seed", 0)),
            epochs=int(p["rag.tune.epochs"]),
            batch_size=int(p["rag.tune.batch_size"]),
            learning_rate=float(p["rag.tune.learning_rate"]),
            progress=ctx.progress,
        )
        report["training"] = stats
        text = json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ctx.output("report.json").write_text(text, encoding="utf-8")
        ctx.log(f"tuned {p['rag.embed_model']}: {stats['steps']} steps, loss {stats['loss']:g}")


kind = RagEmbedder()
