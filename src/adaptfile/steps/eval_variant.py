"""Step eval.variant: answer every data.eval row with one variant; metrics by task, answer_nll, latency."""

from __future__ import annotations

import json
import time
from pathlib import Path

from adaptfile.engine.protocol import StepContext

VERSION = "4"  # 3: classify answers normalised to a label, or chosen by label likelihood; 4: n-gram ban over the answer only


class EvalVariant:
    """results.json (variant, strategies, metrics, rows) and predictions.jsonl (one row per eval example)."""

    name = "eval.variant"
    version = VERSION
    params = None  # eval.variant/strategies/max_new_tokens/classify, project.task/seed, model.*, rag.top_k
    outputs = ("results.json", "predictions.jsonl")
    volatile = outputs  # both carry measured latencies
    packages = ("adaptfile", "torch", "transformers", "peft")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.evaluate.metrics import Prediction, task_metrics
        from adaptfile.knowledge.metrics import RetrievalCase, first_hit_rank
        from adaptfile.runtime import Runtime
        from adaptfile.train.data import read_examples_dir

        p = ctx.params
        _seed(int(p.get("project.seed", 0)))
        runtime = Runtime.from_upstream(p, ctx.upstream, ctx.root)
        rows = read_examples_dir(ctx.upstream["eval.load"])
        rag = runtime.artifacts.index is not None
        task = p.get("project.task", "qa")
        labels = _labels(ctx, rows) if task == "classify" else []
        by_likelihood = task == "classify" and p.get("eval.classify") == "likelihood"
        runtime.load()  # not inside the first row's latency
        predictions = []
        for done, row in enumerate(rows):
            started = time.perf_counter()
            chunks = runtime.retrieve(row.input)
            prepared = runtime.prepare(row.input, chunks)
            if by_likelihood:
                nlls = runtime.model.label_nlls(prepared.ids, labels)
                text = labels[nlls.index(min(nlls))]
            else:
                text = runtime.model.generate(prepared.ids, runtime.max_new_tokens).text
            latency = (time.perf_counter() - started) * 1000
            gold = row.label or row.output
            rank = (
                first_hit_rank(chunks, RetrievalCase(row.input, row.source)) if rag and row.source else None
            )
            predictions.append(
                Prediction(
                    question=row.input,
                    gold=gold,
                    answer=text,
                    answer_nll=round(runtime.answer_nll(row.input, row.output, prepared), 6),
                    prompt_tokens=len(prepared.ids),
                    latency_ms=round(latency, 3),
                    citations=[str(c) for c in prepared.citations],
                    source=row.source,
                    retrieval_rank=rank,
                )
            )
            ctx.progress(done + 1, len(rows), runtime.name)
        metrics = task_metrics(task, predictions, rag, labels)
        results = {
            "variant": runtime.name,
            "strategies": list(runtime.artifacts.strategies),
            "rows": len(predictions),
            "metrics": metrics,
        }
        _write(ctx.output("results.json"), json.dumps(results, sort_keys=True, indent=2) + "\n")
        lines = [json.dumps(x.to_json(), sort_keys=True, ensure_ascii=False) + "\n" for x in predictions]
        _write(ctx.output("predictions.jsonl"), "".join(lines))
        shown = ", ".join(f"{k} {v:g}" for k, v in metrics.items())
        ctx.log(f"{runtime.name}: {len(predictions)} rows: {shown}")


def _labels(ctx: StepContext, rows: list) -> list[str]:
    """The label set of a classify task: the training examples' labels (the eval set's golds only when
    there are no examples), sorted."""
    from adaptfile.train.data import read_examples_dir

    source = read_examples_dir(ctx.upstream["examples.load"]) if "examples.load" in ctx.upstream else rows
    return sorted({row.label or row.output for row in source})


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


kind = EvalVariant()
