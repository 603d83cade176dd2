"""Training step kinds: lora/qlora/prefix/full fine-tuning, continued and from-scratch pre-training.

Each kind is a thin wrapper over `adaptfile.train.recipe`; torch, transformers and peft are
imported inside `run()` only, so planning and no-op builds never load them.
"""

from __future__ import annotations

from dataclasses import dataclass

from adaptfile.engine.protocol import StepContext

TRAIN_PACKAGES = ("torch", "transformers", "peft", "accelerate")
VERSION = "3"  # 3: examples rendered as served (retrieved passages), train_prompts.jsonl


@dataclass(frozen=True)
class TrainKind:
    """`<method>.train`: trains with the method's resolved settings and publishes the final artifact."""

    method: str
    outputs: tuple[str, ...]
    params: tuple[str, ...] | None = None  # every param the plan gives it: the DAG lists exactly those
    version: str = VERSION
    packages: tuple[str, ...] = TRAIN_PACKAGES
    volatile: tuple[str, ...] = (
        "metrics.json",
    )  # wall time, tokens/s, peak memory: measured, not reproduced

    @property
    def name(self) -> str:
        return f"{self.method}.train"

    def run(self, ctx: StepContext) -> None:
        import json
        import time

        started = time.perf_counter()  # step_seconds: the whole step, imports included, as the plan estimates
        from adaptfile.train.metrics import barely_learned, write_metrics
        from adaptfile.train.recipe import run_step

        run_step(ctx, self.method)
        metrics_path = ctx.output("metrics.json")
        measured = json.loads(metrics_path.read_text(encoding="utf-8"))
        measured["step_seconds"] = time.perf_counter() - started
        write_metrics(metrics_path, measured)
        if warning := barely_learned(measured.get("eval_loss_start"), measured.get("eval_loss"), self.method):
            ctx.log(f"warning: {warning}")  # the build shows it beside the step; report.md repeats it


_SFT = ("train_prompts.jsonl",)  # the rendered training prompts, one example a line
_ADAPTER = ("adapter/", "merged/", "metrics.json", "loss.png", *_SFT)
_MODEL = ("model/", "metrics.json", "loss.png")

LORA_TRAIN = TrainKind("lora", _ADAPTER)
QLORA_TRAIN = TrainKind("qlora", _ADAPTER)
PREFIX_TRAIN = TrainKind("prefix", ("adapter/", "metrics.json", "loss.png", *_SFT))
FULL_TRAIN = TrainKind("full", (*_MODEL, *_SFT))
CPT_TRAIN = TrainKind("cpt", _MODEL)
PRETRAIN_TRAIN = TrainKind("pretrain", _MODEL)
