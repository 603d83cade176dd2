"""lora.train end to end on a tiny Llama: loss drops, adapter reloads with plain peft, determinism, resume."""

from __future__ import annotations

import json

import pytest
import torch

from adaptfile.steps.train_models import LORA_TRAIN
from adaptfile.train import recipe

from .conftest import lora_params


def test_lora_trains_saves_and_reloads(tiny_base, examples_dir, make_ctx):
    ctx = make_ctx(lora_params(tiny_base), {"examples.load": examples_dir})
    LORA_TRAIN.run(ctx)
    adapter = ctx.out / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / "adapter_config.json").is_file()
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]
    assert run["loss_curve"] and run["tokens_per_s"] > 0 and run["peak_memory_gb"] > 0
    assert (ctx.out / "loss.png").read_bytes()[:4] == b"\x89PNG"

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    reloaded = PeftModel.from_pretrained(base, adapter).eval()
    prepared = recipe.setup(ctx, "lora")
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(prepared.model, load_file(adapter / "adapter_model.safetensors"))
    prepared.model.eval()
    ids = torch.tensor([[1, 20, 30, 40, 50]])
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, prepared.model(ids).logits)


def test_heldout_zero_trains_on_every_example_and_measures_no_eval_loss(tiny_base, examples_dir, make_ctx):
    kept = make_ctx(lora_params(tiny_base, **{"lora.epochs": 1.0}), {"examples.load": examples_dir}, name="a")
    every = make_ctx(
        lora_params(tiny_base, **{"lora.epochs": 1.0, "lora.heldout": 0.0}),
        {"examples.load": examples_dir},
        "b",
    )

    def examples(ctx):
        return sum(row.examples for row in recipe.setup(ctx, "lora").train_rows)

    assert examples(every) == 40 and examples(kept) == 36
    LORA_TRAIN.run(every)
    run = json.loads((every.out / "metrics.json").read_text())
    assert run["eval_loss"] is None and run["eval_loss_start"] is None and run["loss_curve"]
    assert (every.out / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_two_runs_are_bit_identical(tiny_base, examples_dir, make_ctx):
    params = lora_params(tiny_base, **{"lora.epochs": 1.0})
    digests = []
    for name in ("a", "b"):
        ctx = make_ctx(params, {"examples.load": examples_dir}, name=name)
        LORA_TRAIN.run(ctx)
        digests.append((ctx.out / "adapter" / "adapter_model.safetensors").read_bytes())
    assert digests[0] == digests[1]


def test_resume_after_interruption_equals_uninterrupted(tiny_base, examples_dir, make_ctx):
    params = lora_params(tiny_base, **{"lora.epochs": 2.0, "lora.save_every": 100})
    whole = make_ctx(params, {"examples.load": examples_dir}, name="whole")
    LORA_TRAIN.run(whole)

    cut = make_ctx(params, {"examples.load": examples_dir}, name="cut")
    prepared = recipe.setup(cut, "lora")
    with pytest.raises(KeyboardInterrupt):
        recipe.train(cut, prepared, stop_after=3)
    assert list((cut.work / "checkpoints").glob("checkpoint-3"))
    LORA_TRAIN.run(cut)  # a second build: same key, same work dir → resumes
    run = json.loads((cut.out / "metrics.json").read_text())
    assert run["resumed_from_step"] == 3
    same = (cut.out / "adapter" / "adapter_model.safetensors").read_bytes()
    assert same == (whole.out / "adapter" / "adapter_model.safetensors").read_bytes()


def test_sigint_checkpoints_then_stops(tiny_base, examples_dir, make_ctx):
    import os
    import signal

    ctx = make_ctx(lora_params(tiny_base, **{"lora.save_every": 100}), {"examples.load": examples_dir})

    def progress(done, total, message):
        if done == 2:
            os.kill(os.getpid(), signal.SIGINT)

    ctx.on_progress = progress
    with pytest.raises(KeyboardInterrupt):
        LORA_TRAIN.run(ctx)
    assert [p.name for p in (ctx.work / "checkpoints").glob("checkpoint-*")] == ["checkpoint-2"]
    assert not (ctx.out / "adapter" / "adapter_model.safetensors").exists()  # nothing half-published


def test_step_modules_import_no_ml_libraries():
    import subprocess
    import sys

    code = (
        "import sys, adaptfile.steps.train_models, adaptfile.steps.pretrain_tokenizer; "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
