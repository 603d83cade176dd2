"""The multi-device path for real: two CPU processes under torchrun, DDP over gloo."""

from __future__ import annotations

import json

from adaptfile.steps.train_models import LORA_TRAIN

from .conftest import lora_params


def test_ddp_two_cpu_processes(tiny_base, examples_dir, make_ctx):
    params = lora_params(tiny_base, **{"hardware.train.count": 2, "lora.epochs": 2.0, "lora.batch_size": 4})
    ctx = make_ctx(params, {"examples.load": examples_dir})
    seen = []
    ctx.on_progress = lambda done, total, message: seen.append((done, total))
    LORA_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["launch"]["processes"] == 2 and run["launch"]["strategy"] == "ddp"
    assert run["launch"]["training_arguments"]["ddp_backend"] == "gloo"
    assert run["eval_loss"] < run["eval_loss_start"]
    assert (ctx.out / "adapter" / "adapter_model.safetensors").is_file()
    assert (ctx.work / "launch" / "spec.json").is_file()
    assert seen and seen[-1][0] == seen[-1][1]
