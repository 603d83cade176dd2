"""Step rag.train_context: what the built index retrieves for every training example, retrieved once.

A RAG variant is trained on the passages it will be served with (retrieval-augmented fine-tuning, as
in RAFT): this step runs the serving retriever (same index, top_k, window) over each example's input and
keeps the result as an input of the training step. A separate step rather than a cache inside the
trainer: the engine keys it by the index's output digest and the examples, so retrieval reruns when the
index or the examples change, never when only a training knob does.
"""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext


class RagTrainContext:
    """context.jsonl (one row per example: input, retrieved chunks, gold rank) and recall.json."""

    name = "rag.train_context"
    version = "1"
    params = ("rag.top_k",)
    outputs = ("context.jsonl", "recall.json")
    packages = ("llama-index-core", "sentence-transformers", "torch")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.knowledge.metrics import RetrievalCase, first_hit_rank
        from adaptfile.knowledge.retrieval import Retriever
        from adaptfile.train.data import read_examples_dir

        retriever = Retriever.load(ctx.upstream["rag.index"] / "index", top_k=ctx.params.get("rag.top_k"))
        examples = read_examples_dir(ctx.upstream["examples.load"])
        rows, with_source, hits = [], 0, 0
        for done, example in enumerate(examples):
            chunks = retriever.retrieve(example.input)
            rank = (
                first_hit_rank(chunks, RetrievalCase(example.input, example.source))
                if example.source
                else None
            )
            with_source += bool(example.source)
            hits += rank is not None
            rows.append(
                {
                    "input": example.input,
                    "chunks": [chunk.to_json() for chunk in chunks],
                    "source": example.source,
                    "gold_rank": rank,
                }
            )
            ctx.progress(done + 1, len(examples), "retrieving for training examples")
        recall = {
            "examples": len(rows),
            "with_source": with_source,
            "gold_retrieved": hits,
            "recall": round(hits / with_source, 6) if with_source else None,
            "top_k": retriever.top_k,
        }
        lines = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
        ctx.output("context.jsonl").write_text(lines, encoding="utf-8", newline="\n")
        ctx.output("recall.json").write_text(
            json.dumps(recall, sort_keys=True, indent=2) + "\n", encoding="utf-8"
        )
        if with_source:
            ctx.log(
                f"gold passage retrieved for {hits} of {with_source} training examples (top {retriever.top_k})"
            )


kind = RagTrainContext()
