"""Benchmark: adapt's lora.train against a plain transformers Trainer + peft baseline, same data.

A tiny Llama (4 layers, hidden 256) and QA examples of 20–400 tokens. The baseline pads each
batch to its longest example and does not pack; adapt packs (best-fit bins near the longest
example, position ids keep examples apart) and computes logits only where a target follows.
Same examples, tokens, epochs, learning rate, batch size, LoRA config and seed. Each side runs
in its own process (for its peak RSS); eval loss is measured the same way for both.

    .venv/bin/python bench/train_throughput.py [--examples 192] [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# adapt/baseline useful tokens/s that single-process training must keep (issue: FSDP / estimates)
TARGET = 2.0
SYLLABLES = ["ba", "ko", "ri", "tu", "me", "sa", "lo", "ne", "vi", "da", "pu", "ge"]
WORDS = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})[:600]  # one token each
ANSWER_WEIGHTS = [1 / (i + 1) for i in range(24)]  # Zipf-like: learnable within a few dozen steps
LR, BATCH, R = 2e-3, 16, 16


def make_world(root: Path, count: int, seed: int = 0) -> None:
    """Base model dir (tokenizer + random 4-layer Llama), train/eval example JSONL."""
    from adaptfile.train.models import scratch_llama, scratch_shape
    from adaptfile.train.tokenizer import train_tokenizer

    rng = random.Random(seed)
    rows = []
    for _ in range(count + 32):
        length = rng.randint(12, 330)  # words, one token each: 20–400 tokens with the template and answer
        words = [rng.choice(WORDS) for _ in range(length)]
        size = min(max(3, length // 6), 40)  # answers: the question's first word, then common answer words
        answer = " ".join([words[0], *rng.choices(WORDS[:24], weights=ANSWER_WEIGHTS, k=size - 1)])
        rows.append({"input": " ".join(words), "output": answer})
    tokenizer = train_tokenizer([" ".join(WORDS)] * 4 + [r["input"] for r in rows[:64]], 2048, root / "base")
    scratch_llama(scratch_shape(4, 256, 4, 2048, 1024), tokenizer, seed).save_pretrained(root / "base")
    for name, part in (("train", rows[:count]), ("eval", rows[count:])):
        (root / name).mkdir()
        (root / name / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))


def render_factory(root: Path, params: dict[str, Any], tokenizer: Any, contexts: Any = None) -> Any:
    def render(example: Any) -> tuple[str, str]:
        return f"Question: {example.input}\nAnswer:", f" {example.output}{tokenizer.eos_token}"

    return render


def params(root: Path, epochs: float) -> dict[str, Any]:
    knobs = {"epochs": epochs, "learning_rate": LR, "batch_size": BATCH, "grad_accum": 1, "precision": "fp32",
             "gradient_checkpointing": False, "max_seq_len": 512, "packing": True, "save_every": 10_000,
             "r": R, "alpha": 2.0 * R, "dropout": 0.0, "targets": "all-linear", "merge": False}  # fmt: skip
    return {**{f"lora.{k}": v for k, v in knobs.items()}, "model.base": str(root / "base"), "model.revision": None,
            "project.seed": 0, "project.task": "qa", "project.instruction": "", "hardware.train.device": "cpu"}  # fmt: skip


def side_adapt(root: Path, epochs: float) -> dict[str, Any]:
    from adaptfile.engine.protocol import StepContext
    from adaptfile.train import data as td
    from adaptfile.train import recipe

    td.serving_renderer = render_factory  # the same plain prompt on both sides
    (root / "adapt-out").mkdir()
    ctx = StepContext("lora.train", "bench", params(root, epochs), root, (),
                      {"examples.load": root / "train", "eval.load": root / "eval"},
                      root / "adapt-out", root / "adapt-work", io.StringIO())  # fmt: skip
    prepared = recipe.setup(ctx, "lora")
    run = recipe.train(ctx, prepared)
    return {"seconds": run["wall_seconds"], "targets": run["target_tokens"], "eval_loss": run["eval_loss"],
            "rows": len(prepared.train_rows), "rows_per_batch": prepared.rows_per_batch, "steps": run["steps"]}  # fmt: skip


def side_baseline(root: Path, epochs: float) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed

    from adaptfile.train import data as td
    from adaptfile.train import packing
    from adaptfile.train.objective import eval_loss

    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(root / "base")
    render = render_factory(root, {}, tokenizer)
    train = td.sft_records(td.read_examples_dir(root / "train"), render, tokenizer, 512)
    evals = td.sft_records(td.read_examples_dir(root / "eval"), render, tokenizer, 512)
    model = AutoModelForCausalLM.from_pretrained(root / "base", dtype=torch.float32)
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=R, lora_alpha=2.0 * R, lora_dropout=0.0, target_modules="all-linear"
    )
    model = get_peft_model(model, lora)

    def collate(rows: list[td.Record]) -> dict[str, Any]:  # pad to the longest in the batch
        width = max(len(r) for r in rows)
        pad = tokenizer.pad_token_id
        return {
            "input_ids": torch.tensor([[*r.input_ids, *[pad] * (width - len(r))] for r in rows]),
            "labels": torch.tensor([[*r.labels, *[td.IGNORE] * (width - len(r))] for r in rows]),
            "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        }

    args = TrainingArguments(output_dir=str(root / "baseline"), per_device_train_batch_size=BATCH,
                             num_train_epochs=epochs, learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=0.03,
                             weight_decay=0.0, optim="adamw_torch", logging_steps=1, save_strategy="no", seed=0,
                             use_cpu=True, report_to="none", disable_tqdm=True, remove_unused_columns=False)  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    eval_rows = packing.unpacked(evals)
    batches = [
        packing.Collator(tokenizer.pad_token_id, False)(eval_rows[i : i + BATCH])
        for i in range(0, len(eval_rows), BATCH)
    ]
    targets = round(sum(r.targets for r in train) * epochs)
    return {"seconds": seconds, "targets": targets, "eval_loss": eval_loss(model, batches),
            "lengths": [min(len(r) for r in train), max(len(r) for r in train)],
            "steps": trainer.state.global_step}  # fmt: skip


def child(side: str, root: Path, epochs: float, threads: int) -> None:
    import resource

    import torch

    torch.set_num_threads(threads)
    result = (side_adapt if side == "adapt" else side_baseline)(root, epochs)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=192)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument(
        "--threads", type=int, default=1
    )  # 2 threads on busy shared cores stall at every barrier
    parser.add_argument("--side", choices=("adapt", "baseline"))
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.side:
        child(args.side, args.root, args.epochs, args.threads)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_world(root, args.examples)
        results = {}
        for side in ("baseline", "adapt"):
            cmd = [sys.executable, __file__, "--side", side, "--root", str(root), "--epochs", str(args.epochs),
                   "--threads", str(args.threads)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
            results[side] = json.loads(done.stdout.strip().splitlines()[-1])
    low, high = results["baseline"]["lengths"]
    print(f"examples {args.examples} ({low}–{high} tokens), epochs {args.epochs:g}, batch {BATCH}, lr {LR:g}, LoRA r {R}, "
          f"tiny Llama 4 layers × hidden 256, {args.threads} threads")  # fmt: skip
    for side, r in results.items():
        rate = r["targets"] / r["seconds"]
        print(f"{side:9s} useful target tokens/s {rate:8.1f}  train {r['seconds']:6.1f} s  steps {r['steps']:3d}  "
              f"peak RSS {r['peak_rss_mb']:6.0f} MB  final eval loss {r['eval_loss']:.4f}")  # fmt: skip
    a, b = results["adapt"], results["baseline"]
    ratio = (a["targets"] / a["seconds"]) / (b["targets"] / b["seconds"])
    verdict = "met" if ratio >= TARGET and a["eval_loss"] <= b["eval_loss"] else "NOT met"
    print(f"eval loss adapt − baseline: {a['eval_loss'] - b['eval_loss']:+.4f}")
    print(
        f"ratio adapt/baseline useful tokens/s: {ratio:.2f}× (target ≥ {TARGET}× at equal or better eval loss: {verdict})"
    )


if __name__ == "__main__":
    main()
