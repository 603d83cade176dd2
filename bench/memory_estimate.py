"""Benchmark: the estimator's training-memory peak against the measured peak, on real model shapes.

Random-initialised models with the real configurations of SmolLM2-135M, Qwen2.5-0.5B and Llama-3.2-1B (copied
below, no download), LoRA (r 16, all linear layers) and full fine-tuning at sequence length 512, batch 1 and
4. Each row runs in its own process: build the model in the plan's precision (fp32 on CPU, bf16 on CUDA), run a few
optimizer steps of the recipe's loss (target-token cross-entropy) with AdamW, and measure the peak:

- CPU: peak resident set size (ru_maxrss) minus the RSS of the process before the model was built;
- CUDA: torch.cuda.max_memory_allocated.

The estimate is the preflight's (adaptfile.train.preflight.estimate_memory) for the model actually built.
Rows whose estimate is over this machine's budget (--budget-gb, default 10 GB, and never more than the
memory available minus 2 GB) are printed as skipped rather than run.

--allocated (CPU) runs every row a second time with glibc's MALLOC_MMAP_THRESHOLD_ fixed at 128 KiB in that
row's process, so that every freed tensor leaves the process at once: its peak RSS is then the allocated
peak, without the blocks the allocator keeps. The estimator's CPU activation coefficients are fitted to that
column, and its allocator hold to the ratio of the two (adaptfile/plan/estimate.py).

    .venv/bin/python bench/memory_estimate.py [--device cpu|cuda] [--steps 2] [--only qwen2.5-0.5b] [--allocated]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

SEQ = 512
BATCHES = (1, 4)
METHODS = ("lora", "full")
LORA_R = 16
TOLERANCE = 0.20
# the real configurations (config.json of each repository), the fields that set the memory
CONFIGS: dict[str, dict[str, Any]] = {
    "smollm2-135m": {  # the quickstart's model: narrow (576) and deep (30 layers)
        "model_type": "llama",
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "head_dim": 64,
        "vocab_size": 49152,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "rope_theta": 100000.0,
        "rms_norm_eps": 1e-5,
    },
    "qwen2.5-0.5b": {
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": True,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
    },
    "llama-3.2-1b": {
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
        "rope_theta": 500000.0,
        "rms_norm_eps": 1e-5,
        "rope_scaling": {
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3",
        },
    },
}


def rss_gb() -> float:
    """This process's current resident set size (GB, 1e9 bytes as the estimator counts)."""
    import psutil

    return psutil.Process().memory_info().rss / 1e9


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def build(name: str, method: str, precision: str, device: str) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from adaptfile.plan.estimate import load_precision
    from adaptfile.train.models import DTYPES, wrap_peft

    fields = dict(CONFIGS[name])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    torch.manual_seed(0)
    dtype = getattr(torch, DTYPES[load_precision(method, precision)])
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device)
    params = {"lora.r": LORA_R, "lora.alpha": 2 * LORA_R, "lora.targets": "all-linear", "lora.dropout": 0.0}
    return wrap_peft(model, method, params)


def measure(name: str, method: str, batch: int, steps: int, device: str) -> dict[str, Any]:
    """One row, in this process: the estimate, then the measured peak of `steps` optimizer steps."""
    import torch

    from adaptfile.train import preflight
    from adaptfile.train.objective import target_loss_sum

    torch.set_num_threads(2)
    precision = "bf16" if device == "cuda" else "fp32"
    before = rss_gb()
    model = build(name, method, precision, device)
    model.train()
    memory = preflight.estimate_memory(method, model, batch, SEQ, False, precision, device=device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, foreach=False)
    vocab = model.config.vocab_size if hasattr(model, "config") else 32000
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(steps):
        ids = torch.randint(0, vocab, (batch, SEQ), generator=generator).to(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            total, count = target_loss_sum(model, {"input_ids": ids, "labels": ids})
        (total / count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = (time.perf_counter() - started) / steps
    if device == "cuda":
        measured = torch.cuda.max_memory_allocated() / 1e9
    else:
        measured = peak_rss_gb() - before
    return {"estimate_gb": memory.total_gb, "measured_gb": measured, "seconds_per_step": seconds}


def estimate_only(name: str, method: str, batch: int, device: str) -> float:
    """The estimate without building the model: params counted on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from adaptfile.train import preflight
    from adaptfile.train.models import wrap_peft

    fields = dict(CONFIGS[name])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = {"lora.r": LORA_R, "lora.alpha": 2 * LORA_R, "lora.targets": "all-linear", "lora.dropout": 0.0}
    model = wrap_peft(model, method, params)
    precision = "bf16" if device == "cuda" else "fp32"
    return preflight.estimate_memory(method, model, batch, SEQ, False, precision, device=device).total_gb


def available_gb(device: str) -> float:
    if device == "cuda":
        import torch

        return torch.cuda.mem_get_info()[0] / 1e9
    import psutil

    return psutil.virtual_memory().available / 1e9


def _allocated(row: list[str]) -> float:
    """The row's peak with every freed block returned at once (a fixed mmap threshold in its process only)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run(row, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])["measured_gb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--budget-gb", type=float, default=10.0)
    parser.add_argument("--only", default=None, help="one model name")
    parser.add_argument("--allocated", action="store_true", help="also the allocated peak (CPU, see above)")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)  # name,method,batch: run one row
    args = parser.parse_args()
    if args.row:
        name, method, batch = args.row.split(",")
        print(json.dumps(measure(name, method, int(batch), args.steps, args.device)))
        return
    print(f"device {args.device}, seq {SEQ}, {args.steps} AdamW steps per row, tolerance ±{TOLERANCE:.0%}")
    allocated = " allocated" if args.allocated else ""
    print(
        f"{'model':<14} {'method':<5} {'batch':>5} {'estimate':>9} {'measured':>9} {'ratio':>6}  s/step{allocated}"
    )
    worst = 0.0
    for name in CONFIGS:
        if args.only and name != args.only:
            continue
        for method in METHODS:
            for batch in BATCHES:
                estimate = estimate_only(name, method, batch, args.device)
                budget = min(args.budget_gb, available_gb(args.device) - 2)
                head = f"{name:<14} {method:<5} {batch:>5} {estimate:>8.2f}G"
                if estimate > budget:
                    print(f"{head}  skipped: needs ≈{estimate:.1f} GB, over this machine's budget "
                          f"({budget:.1f} GB)", flush=True)  # fmt: skip
                    continue
                row = [sys.executable, __file__, "--row", f"{name},{method},{batch}", "--steps",
                       str(args.steps), "--device", args.device]  # fmt: skip
                done = subprocess.run(row, capture_output=True, text=True, check=False)
                if done.returncode:
                    print(f"{head}  failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                ratio = result["estimate_gb"] / result["measured_gb"]
                worst = max(worst, abs(ratio - 1))
                extra = f"  {_allocated(row):>8.2f}G" if args.allocated else ""
                print(f"{head} {result['measured_gb']:>8.2f}G {ratio:>6.2f}  {result['seconds_per_step']:.1f}{extra}",
                      flush=True)  # fmt: skip
    verdict = "within" if worst <= TOLERANCE else "OUTSIDE"
    print(f"worst deviation {worst:.0%}: every measured row {verdict} ±{TOLERANCE:.0%}")


if __name__ == "__main__":
    main()
