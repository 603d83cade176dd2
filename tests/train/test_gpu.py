"""GPU paths: bf16 and fp16 LoRA, 4-bit QLoRA and single-GPU FSDP on CUDA (skipped without it); bench/gpu_check.sh."""

from __future__ import annotations

import json

import pytest
import torch

from adaptfile.steps.train_models import FULL_TRAIN, LORA_TRAIN, QLORA_TRAIN

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


def test_fp16_lora_on_cuda_loads_the_base_in_fp16(tiny_base, examples_dir, make_ctx):
    """A T4 / V100 trains in fp16: the frozen base in fp16, the adapter in fp32 under the grad scaler."""
    params = lora_params(tiny_base, **{"lora.precision": "fp16", "hardware.train.device": "cuda"})
    ctx = make_ctx(params, {"examples.load": examples_dir})
    LORA_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"] and run["settings"]["precision"] == "fp16"


def test_single_gpu_fsdp_full(tiny_base, examples_dir, make_ctx):
    from transformers import AutoModelForCausalLM

    params = {k.replace("lora.", "full.", 1): v for k, v in lora_params(tiny_base).items()
              if k.split(".")[-1] not in ("r", "alpha", "dropout", "targets", "merge")}  # fmt: skip
    params |= {"full.precision": "bf16", "full.learning_rate": 1e-3, "hardware.train.device": "cuda",
               "hardware.train.parallel": "fsdp"}  # fmt: skip
    ctx = make_ctx(params, {"examples.load": examples_dir}, step="full.train")
    FULL_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["launch"]["strategy"] == "fsdp" and run["fsdp_wrap"] == ["LlamaDecoderLayer"]
    assert run["eval_loss"] < run["eval_loss_start"]
    AutoModelForCausalLM.from_pretrained(ctx.out / "model")


def test_qlora_4bit_on_cuda(tiny_base, examples_dir, make_ctx):
    pytest.importorskip("bitsandbytes")
    params = {k.replace("lora.", "qlora.", 1): v for k, v in lora_params(tiny_base).items()}
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"  # the compute dtype follows the GPU
    params |= {"qlora.precision": precision, "qlora.bits": 4, "hardware.train.device": "cuda"}
    ctx = make_ctx(params, {"examples.load": examples_dir}, step="qlora.train")
    QLORA_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]
    assert (ctx.out / "adapter" / "adapter_model.safetensors").is_file()
