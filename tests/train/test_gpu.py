"""GPU paths: bf16 LoRA and 4-bit QLoRA on CUDA (skipped without it)."""

from __future__ import annotations

import json

import pytest
import torch

from adaptfile.steps.train_models import LORA_TRAIN, QLORA_TRAIN

from .conftest import lora_params

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_bf16_lora_on_cuda(tiny_base, examples_dir, make_ctx):
    params = lora_params(tiny_base, **{"lora.precision": "bf16", "hardware.train.device": "cuda"})
    ctx = make_ctx(params, {"examples.load": examples_dir})
    LORA_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"] and run["peak_memory_gb"] > 0


def test_qlora_4bit_on_cuda(tiny_base, examples_dir, make_ctx):
    pytest.importorskip("bitsandbytes")
    params = {k.replace("lora.", "qlora.", 1): v for k, v in lora_params(tiny_base).items()}
    params |= {"qlora.precision": "bf16", "qlora.bits": 4, "hardware.train.device": "cuda"}
    ctx = make_ctx(params, {"examples.load": examples_dir}, step="qlora.train")
    QLORA_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]
    assert (ctx.out / "adapter" / "adapter_model.safetensors").is_file()
