"""Hardware-aware training settings: the batch, accumulation, checkpointing and precision that fit."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from adaptfile.config.model import TrainKnobs
from adaptfile.plan import estimate as est
from adaptfile.plan.hardware import HardwareProfile
from adaptfile.plan.model_info import ModelInfo

PARALLEL_NAMES = {"single": "one device", "ddp": "DDP", "fsdp": "FSDP full sharding",
                  "fsdp_offload": "FSDP with CPU offload"}  # fmt: skip
TARGET_BATCH = 16  # sequences per optimizer step aimed at when batch_size = "auto"
MAX_AUTO_SEQ = 4096  # longest default training sequence


@dataclass(frozen=True)
class TrainData:
    """What a training run consumes: one epoch's tokens, the longest record, and the record count."""

    tokens: float
    longest: int
    rows: int


@dataclass(frozen=True)
class TrainPlan:
    """Resolved settings of one training strategy with its memory, time and cost estimate."""

    method: str
    settings: dict[str, Any]  # every knob of the strategy's table, "auto" resolved
    trainable_params: int
    memory: est.Memory
    hardware: HardwareProfile
    tokens: float  # D: training tokens over all epochs
    flops: float
    wall_hours: float
    notes: tuple[str, ...] = ()
    unforced: TrainPlan | None = None  # the "auto" plan, when a forced hardware.train.parallel does not fit

    @property
    def parallel(self) -> str:
        """single | ddp | fsdp | fsdp_offload: how the run spreads over devices."""
        return self.memory.parallel

    @property
    def gpu_hours(self) -> float:
        return self.wall_hours * self.hardware.devices

    @property
    def cost_usd(self) -> float:
        return self.gpu_hours * self.hardware.usd_per_hour

    def fits(self, margin: float = est.FIT_MARGIN) -> bool:
        """Whether the memory estimate stays under `margin` of one device's memory."""
        return self.memory.total_gb <= margin * self.hardware.device_memory_gb

    def summary(self) -> str:
        """E.g. "17.2 GB est. of 24 GB on 1× L4; 1.3 GPU-h, $1.04", or "… per device … on 2× L4 (DDP); …"."""
        per = " per device" if self.parallel != "single" else ""
        how = f" ({PARALLEL_NAMES[self.parallel]})" if self.parallel != "single" else ""
        return (
            f"{self.memory.total_gb:.3g} GB est.{per} of {_num(self.hardware.device_memory_gb)} GB on "
            f"{self.hardware.short()}{how}; {est.hours(self.gpu_hours)} {self.hardware.hours_unit}, "
            f"{est.money(self.cost_usd)}"
        )

    def estimate(self, model: ModelInfo) -> dict[str, Any]:
        """The numbers behind the decision, labelled as an estimate."""
        s = self.settings
        return {
            "label": f"estimate, {est.ACCURACY}",
            "memory_gb": est.sig(self.memory.total_gb),
            "memory_limit_gb": est.sig(self.hardware.device_memory_gb),
            "parallel": self.parallel,
            "devices": self.hardware.devices,
            "memory_breakdown_gb": {
                "weights": est.sig(self.memory.weights_gb),
                "trainable": est.sig(self.memory.trainable_gb),
                "activations": est.sig(self.memory.activations_gb),
            },
            "trainable_params": self.trainable_params,
            "trainable_pct": est.sig(100 * self.trainable_params / model.params),
            "train_tokens": int(self.tokens),
            "flops": est.sig(self.flops),
            "gpu_hours": est.sig(self.gpu_hours),
            "hours_unit": self.hardware.hours_unit,  # "GPU-h" on CUDA, "h" (device hours) elsewhere
            "wall_hours": est.sig(self.wall_hours),
            "cost_usd": round(self.cost_usd, 2),
            "hardware": self.hardware.describe(),
            "batch_size": s["batch_size"],
            "grad_accum": s["grad_accum"],
            "gradient_checkpointing": s["gradient_checkpointing"],
            "precision": s["precision"],
            "max_seq_len": s["max_seq_len"],
        }


def resolve_precision(knob: str, hw: HardwareProfile) -> tuple[str, str | None]:
    """bf16 on CUDA GPUs that support it, fp16 on older GPUs, fp32 on cpu/mps; a note if overridden badly."""
    if knob == "auto":
        if hw.device == "cuda":
            return ("bf16" if hw.bf16 else "fp16"), None
        return "fp32", None
    if knob == "bf16" and hw.device == "cuda" and not hw.bf16:
        return knob, f"precision bf16 asked for, but {hw.name} has no native bf16; fp16 is faster there"
    if knob in ("bf16", "fp16") and hw.device != "cuda":
        return knob, f"precision {knob} on {hw.device} is slow or unsupported; fp32 is the safe choice"
    return knob, None


def fit_training(
    method: str, knobs: TrainKnobs, model: ModelInfo, hw: HardwareProfile, data: TrainData, trainable: int
) -> TrainPlan:
    """Pick batch size, checkpointing and accumulation so the estimate fits the device with a margin."""
    precision, note = resolve_precision(knobs.precision, hw)
    seq = knobs.max_seq_len or min(model.context, MAX_AUTO_SEQ, est.pow2_at_least(max(data.longest, 64)))
    epoch_tokens = data.tokens if knobs.packing else data.rows * min(data.tokens / max(data.rows, 1), seq)
    sequences = math.ceil(epoch_tokens / seq) if knobs.packing else data.rows
    target = max(1, min(TARGET_BATCH, sequences))
    if knobs.batch_size == "auto":
        batches = [b for b in (16, 8, 4, 2, 1) if b <= target]
    else:
        batches = [int(knobs.batch_size)]
    if knobs.gradient_checkpointing == "auto":
        options = [False, True]
    else:
        options = [bool(knobs.gradient_checkpointing)]
    margin = est.FULL_MARGIN if method == "full" else est.FIT_MARGIN
    strategies = parallel_options(method, hw, hw.parallel)

    dropped = 0
    if method in ("lora", "qlora") and getattr(knobs, "dropout", 0) > 0:
        dropped = est.lora_dropout_inputs(model, knobs.targets)  # type: ignore[attr-defined]

    def memory(batch: int, ckpt: bool, parallel: str) -> est.Memory:
        return est.training_memory(
            method, model, hw, trainable, batch, seq, ckpt, precision, parallel, dropout_inputs=dropped
        )

    choice = next(
        (
            (b, c, p)
            for p in strategies
            for c in options
            for b in batches
            if memory(b, c, p).total_gb <= margin * hw.device_memory_gb
        ),
        (batches[-1], options[-1], strategies[-1]),
    )
    batch, ckpt, parallel = choice
    unforced = None
    if hw.parallel != "auto" and memory(*choice).total_gb > margin * hw.device_memory_gb:
        auto = fit_training(method, knobs, model, dataclasses.replace(hw, parallel="auto"), data, trainable)
        unforced = auto if auto.fits(margin) else None
    accum = knobs.grad_accum
    if accum == "auto":
        accum = max(1, math.ceil(target / (batch * hw.devices)))
    tokens = epoch_tokens * knobs.epochs
    steps = math.ceil(sequences * knobs.epochs / (batch * int(accum) * hw.devices))
    flops = est.training_flops(method, model, tokens)
    resolved = {
        "batch_size": batch,
        "grad_accum": int(accum),
        "gradient_checkpointing": ckpt,
        "precision": precision,
        "max_seq_len": seq,
        "parallel": parallel,
    }
    settings = {**knobs.model_dump(mode="json"), **resolved}
    if "alpha" in settings and settings["alpha"] is None:
        settings["alpha"] = float(2 * settings["r"])
    return TrainPlan(
        method=method,
        settings=settings,
        trainable_params=trainable,
        memory=memory(batch, ckpt, parallel),
        hardware=hw,
        tokens=tokens,
        flops=flops,
        wall_hours=est.run_hours(flops, hw, ckpt, model.hidden, steps),
        notes=(note,) if note else (),
        unforced=unforced,
    )


def parallel_options(method: str, hw: HardwareProfile, requested: str) -> list[str]:
    """The ways to spread training the planner may choose from, simplest first: one device or DDP when the
    whole run fits one device, FSDP full sharding when it fits only sharded, CPU offload as the last resort
    (CUDA only: on a CPU the "offloaded" state would stay in the same memory). QLoRA never shards: its 4-bit
    weights would need bitsandbytes' quant_storage FSDP path, which adaptfile does not drive."""
    replicated = "single" if hw.devices == 1 else "ddp"
    offload = ["fsdp_offload"] if hw.device == "cuda" else []
    if method == "qlora" or requested == "ddp":
        return [replicated]
    if requested == "fsdp":
        return ["fsdp", *offload]
    if hw.devices == 1:  # one device: QLoRA or a smaller model beat offloading; force "fsdp" to offload
        return ["single"]
    return [replicated, "fsdp", *offload]


def _num(value: float) -> str:
    return f"{value:.3g}"
