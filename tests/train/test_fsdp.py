"""FSDP for real: two CPU processes under torchrun (gloo), FSDP2 full sharding of a tiny qwen2-shaped model.

Each sharded result loads with plain transformers / peft and matches a single-process run with the same
global batch: weights within 2e-3 (absolute; AdamW steps of lr 5e-3, the processes reduce gradients in a
different order) and eval loss within 1e-3. A SIGKILL during an FSDP run resumes to the same final weights.
The multi-process runs take about a minute each here: they are marked slow; the default run keeps the
wrapping, the arguments and the rendezvous timeout (a real torchrun that cannot meet its second node).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import torch

from adaptfile.errors import StepFailed
from adaptfile.steps.train_models import FULL_TRAIN, LORA_TRAIN
from adaptfile.train.launch import distributed_arguments, wrap_classes
from hubstandin.models import write_model

from .conftest import lora_params

WEIGHT_TOLERANCE = 2e-3
LOSS_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def qwen2_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model("qwen2", tmp_path_factory.mktemp("qwen2"))


def params_for(method: str, base: Path, **overrides: Any) -> dict[str, Any]:
    """The same run for lora or full: 2 epochs, unpacked rows (identical batches at any process count)."""
    lora = lora_params(base, **{"lora.packing": False, "lora.epochs": 2.0, "lora.dropout": 0.0})
    if method == "full":
        lora = {k.replace("lora.", "full.", 1): v for k, v in lora.items() if not k.startswith("lora.") or
                k.split(".")[1] not in ("r", "alpha", "dropout", "targets", "merge")}  # fmt: skip
        lora["full.learning_rate"] = 1e-3
    return {**lora, **overrides}


def sharded(method: str, base: Path, batch: int) -> dict[str, Any]:
    return params_for(method, base, **{f"{method}.batch_size": batch, "hardware.train.count": 2,
                                       "hardware.train.parallel": "fsdp"})  # fmt: skip


def weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_fsdp_wraps_the_models_own_blocks(qwen2_base: Path, tiny_base: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    qwen = AutoModelForCausalLM.from_pretrained(qwen2_base)
    assert wrap_classes(qwen, "full.train") == ["Qwen2DecoderLayer"]
    adapted = get_peft_model(qwen, LoraConfig(r=4, target_modules="all-linear"))
    assert wrap_classes(adapted, "lora.train") == ["Qwen2DecoderLayer"]
    assert wrap_classes(AutoModelForCausalLM.from_pretrained(tiny_base), "x") == ["LlamaDecoderLayer"]


def test_fsdp_for_a_model_without_blocks_is_a_clear_error() -> None:
    with pytest.raises(StepFailed, match="no _no_split_modules") as error:
        wrap_classes(torch.nn.Sequential(torch.nn.Linear(4, 4)), "full.train")
    assert 'parallel = "ddp"' in (error.value.hint or "")


def test_distributed_arguments_by_strategy() -> None:
    ddp = distributed_arguments("cpu", 2, "ddp")
    assert ddp == {"ddp_backend": "gloo", "ddp_find_unused_parameters": False}
    fsdp = distributed_arguments("cuda", 4, "fsdp", ["Qwen2DecoderLayer"])
    assert fsdp["ddp_backend"] == "nccl" and fsdp["fsdp"] is True
    config = fsdp["fsdp_config"]
    assert config["transformer_layer_cls_to_wrap"] == ["Qwen2DecoderLayer"] and config["version"] == 2
    assert config["state_dict_type"] == "FULL_STATE_DICT" and config["cpu_offload"] is False
    assert distributed_arguments("cuda", 1, "fsdp_offload", ["X"])["fsdp_config"]["cpu_offload"] is True
    assert distributed_arguments("cpu", 1, "single") == {}


def test_a_node_that_cannot_meet_the_others_times_out_naming_the_endpoint(
    qwen2_base: Path, examples_dir: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ADAPT_RDZV_ENDPOINT", f"127.0.0.1:{port}")
    monkeypatch.setenv("ADAPT_RDZV_TIMEOUT", "3")
    params = lora_params(qwen2_base, **{"hardware.train.nodes": 2, "hardware.train.parallel": "ddp"})
    ctx = make_ctx(params, {"examples.load": examples_dir})
    started = time.monotonic()
    with pytest.raises(StepFailed, match=f"rendezvous 127.0.0.1:{port} within 3 s") as error:
        LORA_TRAIN.run(ctx)
    assert time.monotonic() - started < 120
    assert "MASTER_ADDR" in (error.value.hint or "")


def test_multi_node_without_an_endpoint_says_which_variables(
    qwen2_base: Path, examples_dir: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ADAPT_RDZV_ENDPOINT", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    ctx = make_ctx(lora_params(qwen2_base, **{"hardware.train.nodes": 2}), {"examples.load": examples_dir})
    with pytest.raises(StepFailed, match="no rendezvous endpoint"):
        LORA_TRAIN.run(ctx)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_fsdp_two_processes_match_one_and_load_plainly(
    method: str, qwen2_base: Path, examples_dir: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = FULL_TRAIN if method == "full" else LORA_TRAIN
    single = make_ctx(params_for(method, qwen2_base, **{f"{method}.batch_size": 8}),
                      {"examples.load": examples_dir}, name="single", step=f"{method}.train")  # fmt: skip
    step.run(single)
    two = make_ctx(sharded(method, qwen2_base, 4), {"examples.load": examples_dir}, name="fsdp",
                   step=f"{method}.train")  # fmt: skip
    step.run(two)
    run = json.loads((two.out / "metrics.json").read_text())
    assert run["launch"]["strategy"] == "fsdp" and run["launch"]["processes"] == 2
    assert run["fsdp_wrap"] == ["Qwen2DecoderLayer"]
    alone = json.loads((single.out / "metrics.json").read_text())
    assert abs(run["eval_loss"] - alone["eval_loss"]) < LOSS_TOLERANCE
    assert run["eval_loss"] < run["eval_loss_start"]
    if method == "full":
        from transformers import AutoModelForCausalLM

        AutoModelForCausalLM.from_pretrained(two.out / "model")  # plain transformers loads the result
        difference = max_difference(
            weights(two.out / "model/model.safetensors"), weights(single.out / "model/model.safetensors")
        )
    else:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(qwen2_base), two.out / "adapter")
        difference = max_difference(
            weights(two.out / "adapter/adapter_model.safetensors"),
            weights(single.out / "adapter/adapter_model.safetensors"),
        )
    assert difference < WEIGHT_TOLERANCE


@pytest.mark.slow
def test_kill_during_fsdp_resumes_to_the_same_weights(
    qwen2_base: Path, examples_dir: Path, tmp_path: Path, make_ctx: Any
) -> None:
    params = sharded("full", qwen2_base, 4) | {"full.save_every": 2}
    whole = make_ctx(params, {"examples.load": examples_dir}, name="whole", step="full.train")
    FULL_TRAIN.run(whole)
    out, work = tmp_path / "killed/out", tmp_path / "killed/work"
    out.mkdir(parents=True)
    work.mkdir(parents=True)
    driver = [sys.executable, str(Path(__file__).with_name("fsdp_driver.py")), "full", str(examples_dir),
              str(out), str(work), json.dumps(params)]  # fmt: skip
    process = subprocess.Popen(driver, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list(work.glob("checkpoints/checkpoint-*/trainer_state.json")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint before the kill"
        time.sleep(0.2)
    for child in [*psutil.Process(process.pid).children(recursive=True), psutil.Process(process.pid)]:
        child.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "model").exists()
    resumed = subprocess.run(driver, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = json.loads((out / "metrics.json").read_text())
    assert run["resumed_from_step"] and run["resumed_from_step"] > 0
    difference = max_difference(
        weights(out / "model/model.safetensors"), weights(whole.out / "model/model.safetensors")
    )
    assert difference == 0.0
