"""Memory preflight: the planner's estimate for the real model and batch against the device's free memory."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from adaptfile.errors import StepFailed
from adaptfile.plan import estimate as est
from adaptfile.plan.model_info import ModelInfo


def model_info(model: Any) -> ModelInfo:
    """The estimator's view of a loaded transformers model (base parameters, shape from its config)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    c = base.config
    # the base's own weights: LoRA layers injected into it are counted as trainable, not as base weights
    params = sum(p.numel() for name, p in base.named_parameters() if "lora_" not in name)
    heads = getattr(c, "num_attention_heads", 1)
    return ModelInfo(
        name=getattr(c, "name_or_path", "") or "model",
        params=params,
        active_params=params,
        hidden=c.hidden_size,
        layers=c.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(c, "num_key_value_heads", None) or heads,
        intermediate=getattr(c, "intermediate_size", 4 * c.hidden_size),
        vocab=c.vocab_size,
        context=getattr(c, "max_position_embeddings", 2048),
    )


def estimate_memory(method: str, model: Any, batch: int, seq: int, checkpointing: bool, precision: str,
                    devices: int = 1, parallel: str = "single", device: str = "cpu",
                    logit_tokens: int | None = None) -> est.Memory:  # fmt: skip
    """Per-device training memory by the planner's formulas, for the model actually loaded (`logit_tokens`:
    the most target tokens a batch scores, when the recipe computes logits only for those)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    hw = SimpleNamespace(count=devices, devices=devices, device=device)
    info = model_info(model)
    return est.training_memory(
        method, info, hw, trainable, batch, seq, checkpointing, precision, parallel,  # type: ignore[arg-type]
        logit_tokens=logit_tokens, dropout_inputs=dropout_inputs(model) / max(info.layers, 1),
    )  # fmt: skip


def dropout_inputs(model: Any) -> int:
    """Input values per token that the loaded model's LoRA dropout keeps (est.lora_dropout_inputs, counted
    on the model): the input width of every adapted module whose dropout is on."""
    total = 0
    for module in model.modules():
        drops = getattr(module, "lora_dropout", None)
        if hasattr(drops, "values"):
            total += sum(module.in_features for d in drops.values() if getattr(d, "p", 0) > 0)
    return total


def available_gb(device: str, processes_per_node: int = 1) -> tuple[float, str]:
    """Free memory one training process may use in GB, and its description: its own GPU's, or this
    machine's memory shared by the training processes on it."""
    if device == "cuda":
        import torch

        index = int(os.environ.get("LOCAL_RANK", "0"))
        free, total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        return free / est.GB, f"{name} ({total / est.GB:.1f} GB, {free / est.GB:.1f} GB free)"
    import psutil

    free = psutil.virtual_memory().available
    share = f", shared by {processes_per_node} processes" if processes_per_node > 1 else ""
    return free / est.GB / processes_per_node, f"cpu ({free / est.GB:.1f} GB available{share})"


def check_fits(step: str, memory: est.Memory, free_gb: float, device: str, settings: str) -> None:
    """Stop before training, with the numbers, when the estimate exceeds the free memory."""
    if memory.total_gb <= free_gb:
        return
    raise StepFailed(
        f"{step}: training needs ≈{memory.total_gb:.3g} GB (weights {memory.weights_gb:.3g}, trainable "
        f"{memory.trainable_gb:.3g}, activations {memory.activations_gb:.3g}; {settings}; estimate, "
        f"{est.ACCURACY}) but {device} has {free_gb:.3g} GB free — stopped before training",
        hint="lower batch_size (raise grad_accum to keep the effective batch), turn on gradient_checkpointing, "
        "shorten max_seq_len, or choose qlora / a larger hardware.train.gpu",
    )
