"""Estimator, preflight and loader agree on bytes per parameter, for each method and training precision."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.plan import estimate as est
from adaptfile.train import models, preflight


def loaded_bytes_per_param(model) -> float:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = [p for name, p in base.named_parameters() if "lora_" not in name]
    return sum(p.numel() * p.element_size() for p in params) / sum(p.numel() for p in params)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_frozen_base_loads_in_the_training_precision(tiny_base: Path, method: str, precision: str) -> None:
    model = models.load_base(str(tiny_base), None, method, precision)
    assert (
        loaded_bytes_per_param(model) == est.precision_bytes(precision) == est.base_bytes(method, precision)
    )
    wrapped = models.wrap_peft(model, method, {"lora.r": 4, "prefix.virtual_tokens": 4})
    memory = preflight.estimate_memory(method, wrapped, 1, 64, False, precision)
    base = wrapped.get_base_model()
    params = sum(p.numel() for name, p in base.named_parameters() if "lora_" not in name)
    assert memory.weights_gb == pytest.approx(loaded_bytes_per_param(wrapped) * params / est.GB)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_full_weights_load_in_fp32_and_count_16_bytes(tiny_base: Path, precision: str) -> None:
    model = models.load_base(str(tiny_base), None, "full", precision)
    assert loaded_bytes_per_param(model) == 4  # fp32 master weights; mixed precision casts per op
    # 16 = the fp32 weight + its fp32 gradient + AdamW's two fp32 moments
    assert est.base_bytes("full", precision) == 4 * (1 + 1 + 2)
    memory = preflight.estimate_memory("full", model, 1, 64, False, precision)
    params = sum(p.numel() for p in model.parameters())
    assert memory.weights_gb == pytest.approx(16 * params / est.GB) and memory.trainable_gb == 0


def test_qlora_counts_4_bit_weights_and_computes_in_the_gpu_precision() -> None:
    assert est.load_precision("qlora", "fp16") == "nf4" and est.base_bytes("qlora", "fp16") == 0.55
    assert est.load_precision("lora", "fp16") == "fp16"  # a T4 / V100 loads the frozen base in fp16
