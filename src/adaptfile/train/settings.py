"""A training step's resolved settings, read from its params (keyed by TOML path, resolved by the planner)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SFT_METHODS = ("lora", "qlora", "prefix", "full")
PEFT_METHODS = ("lora", "qlora", "prefix")


@dataclass(frozen=True)
class Settings:
    """What the recipe needs to know, whatever the method."""

    method: str
    epochs: float
    learning_rate: float
    batch_size: int
    grad_accum: int
    gradient_checkpointing: bool
    precision: str
    max_seq_len: int
    packing: bool
    save_every: int
    heldout: float  # share of the training data kept out for eval loss
    seed: int
    devices: int  # training processes in all: per_node × nodes
    device: str
    per_node: int = 1
    nodes: int = 1
    parallel: str = "single"  # the planner's choice: single | ddp | fsdp | fsdp_offload

    @classmethod
    def from_params(cls, method: str, params: dict[str, Any]) -> Settings:
        declared = _declared_knobs(method)

        def knob(name: str, auto: Any = None) -> Any:
            """The planned value, else the [method] table's default; `auto` where either is "auto"."""
            value = params.get(f"{method}.{name}", getattr(declared, name))
            return auto if value == "auto" else value

        device = params.get("hardware.train.device") or _available_device()
        precision = knob("precision", "bf16" if device == "cuda" else "fp32")
        per_node = int(params.get("hardware.train.count", 1))
        nodes = int(params.get("hardware.train.nodes", 1))
        return cls(
            method=method,
            epochs=float(knob("epochs")),
            learning_rate=float(knob("learning_rate")),
            batch_size=int(knob("batch_size", 8)),
            grad_accum=int(knob("grad_accum", 1)),
            gradient_checkpointing=bool(knob("gradient_checkpointing", False)),
            precision=precision,
            max_seq_len=int(knob("max_seq_len") or params.get("model.scratch.context") or 512),
            packing=bool(knob("packing")) and method != "prefix",
            save_every=int(knob("save_every")),
            heldout=float(knob("heldout")),
            seed=int(params.get("project.seed", 0)),
            devices=per_node * nodes,
            device=device,
            per_node=per_node,
            nodes=nodes,
            parallel=params.get("hardware.train.parallel") or ("ddp" if per_node * nodes > 1 else "single"),
        )

    @property
    def sft(self) -> bool:
        return self.method in SFT_METHODS

    @property
    def sharded(self) -> bool:
        """FSDP: weights, gradients and optimizer state split over the processes."""
        return self.parallel in ("fsdp", "fsdp_offload")

    @property
    def launched(self) -> bool:
        """Whether the recipe runs in torchrun-launched processes (several devices, or FSDP on one)."""
        return self.devices > 1 or self.sharded

    @property
    def peft(self) -> bool:
        return self.method in PEFT_METHODS

    def describe(self) -> str:
        return (
            f"batch {self.batch_size} × accum {self.grad_accum}, seq {self.max_seq_len}, {self.precision}, "
            f"checkpointing {'on' if self.gradient_checkpointing else 'off'}"
        )


def _declared_knobs(method: str) -> Any:
    """The [method] table with its documented defaults (config/model.py), so they are written once."""
    from adaptfile.config.model import AdaptConfig

    return AdaptConfig.model_fields[method].get_default(call_default_factory=True)


def _available_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
