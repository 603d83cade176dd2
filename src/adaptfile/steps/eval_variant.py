"""Step eval.variant: answer every data.eval row with one variant; metrics by task, answer_nll, latency."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext

# 3: classify answers normalised to a label, or chosen by label likelihood; 4: n-gram ban over the answer
# only; 5: greedy answers generated in batches of eval.batch_size; 6: a batch scores its gold answers in
# its generation prefill. Not bumped for likelihood mode's shared prefix, label trie and gold NLL read off
# the label scores: the same labels and NLLs up to float rounding, so cached evaluations stay valid.
VERSION = "6"


class EvalVariant:
    """results.json (variant, strategies, metrics, rows) and predictions.jsonl (one row per eval example)."""

    name = "eval.variant"
    version = VERSION
    params = None  # eval.variant/strategies/max_new_tokens/classify/batch_size, project.task/seed, model.*, rag.top_k
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
        prepared = []
        for row in rows:
            started = time.perf_counter()
            chunks = runtime.retrieve(row.input)
            prepared.append((chunks, runtime.prepare(row.input, chunks), time.perf_counter() - started))
        prompts = [prompt.ids for _, prompt, _ in prepared]
        golds = [row.output for row in rows]
        if by_likelihood:
            answers = _likeliest(runtime, prompts, labels, golds, ctx)
        else:
            answers = _generated(runtime, prompts, golds, int(p.get("eval.batch_size", 1)), ctx)
        predictions = []
        for row, (chunks, prompt, seconds), (text, answer_seconds, nll) in zip(
            rows, prepared, answers, strict=True
        ):
            rank = (
                first_hit_rank(chunks, RetrievalCase(row.input, row.source)) if rag and row.source else None
            )
            predictions.append(
                Prediction(
                    question=row.input,
                    gold=row.label or row.output,
                    answer=text,
                    answer_nll=round(
                        runtime.answer_nll(row.input, row.output, prompt) if nll is None else nll, 6
                    ),
                    prompt_tokens=len(prompt.ids),
                    latency_ms=round((seconds + answer_seconds) * 1000, 3),
                    citations=[str(c) for c in prompt.citations],
                    source=row.source,
                    retrieval_rank=rank,
                )
            )
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


def _generated(
    runtime: Any, prompts: list[list[int]], golds: list[str], batch_size: int, ctx: StepContext
) -> list[tuple[str, float, float | None]]:
    """Each prompt's greedy answer, seconds and gold answer NLL (None: score it alone). Batches of
    `batch_size` generate together, scoring their golds in the same prefill, and each row is charged an
    equal share of its batch's time."""
    answers: list[tuple[str, float, float | None]] = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        started = time.perf_counter()
        if len(batch) == 1:
            texts, nlls = [runtime.model.generate(batch[0], runtime.max_new_tokens).text], [None]
        else:
            generations, nlls = runtime.model.generate_batch(
                batch, runtime.max_new_tokens, golds[start : start + batch_size]
            )
            texts = [g.text for g in generations]
        share = (time.perf_counter() - started) / len(batch)
        answers += [(text, share, nll) for text, nll in zip(texts, nlls, strict=True)]
        ctx.progress(len(answers), len(prompts), runtime.name)
    return answers


def _likeliest(
    runtime: Any, prompts: list[list[int]], labels: list[str], golds: list[str], ctx: StepContext
) -> list[tuple[str, float, float | None]]:
    """Each prompt's most likely label, the seconds its scoring took (with an equal share of the prefix all
    prompts share, computed once) and its gold's answer NLL read off the label scores (None where the gold
    is not a label or a prompt was cut: scored alone)."""
    started = time.perf_counter()
    shared = runtime.model.shared_prefix(prompts)
    share = (time.perf_counter() - started) / max(len(prompts), 1)
    answers = []
    for ids, gold in zip(prompts, golds, strict=True):
        started = time.perf_counter()
        nlls = runtime.model.label_nlls(ids, labels, shared)
        nll = runtime.model.answer_nll_of_label(ids, labels, nlls, gold)
        answers.append((labels[nlls.index(min(nlls))], share + time.perf_counter() - started, nll))
        ctx.progress(len(answers), len(prompts), runtime.name)
    return answers


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
