"""How training spreads over devices: one device, DDP, FSDP full sharding, CPU offload; forced choices."""

from __future__ import annotations

import pytest
from plan_worlds import MACHINE, decision, toml

from adaptfile.errors import ConfigError, PlanError
from adaptfile.plan import estimate as est
from adaptfile.plan.fit import TrainData, fit_training
from adaptfile.plan.hardware import resolve_hardware
from adaptfile.plan.model_info import ModelInfo

LLAMA_7B = ModelInfo("llama-7b", 7_000_000_000, 7_000_000_000, 4096, 32, 32, 32, 11008, 32000, 4096)
DATA = TrainData(tokens=300 * 200, longest=200, rows=300)
STYLE = "[needs]\ncustom_style = true\n"


def hardware(body: str):
    return resolve_hardware(toml(f"[hardware.train]\n{body}\n"), MACHINE).train


def test_full_fine_tuning_shards_when_only_sharded_it_fits() -> None:
    one = fit_training(
        "full", toml("").full, LLAMA_7B, hardware('device = "cuda"\ngpu = "A100-80GB"'), DATA, 7e9
    )
    assert one.parallel == "single" and not one.fits(est.FULL_MARGIN)  # 112 GB of weights and AdamW state
    four = hardware('device = "cuda"\ngpu = "A100-80GB"\ncount = 4')
    sharded = fit_training("full", toml("").full, LLAMA_7B, four, DATA, 7e9)
    assert sharded.parallel == "fsdp" and sharded.fits(est.FULL_MARGIN)
    assert sharded.settings["parallel"] == "fsdp"
    assert sharded.memory.weights_gb == pytest.approx(112 / 4 + 2 * 7e9 / 32 * 2 / 1e9)
    lora = fit_training("lora", toml("").lora, LLAMA_7B, four, DATA, 40_000_000)
    assert lora.parallel == "ddp"  # fits one device: every device holds the whole model


def test_cpu_offload_is_the_last_resort_and_only_on_cuda() -> None:
    two_l4 = hardware('device = "cuda"\ngpu = "L4"\ncount = 2')
    offloaded = fit_training("full", toml("").full, LLAMA_7B, two_l4, DATA, 7e9)
    assert offloaded.parallel == "fsdp_offload" and offloaded.memory.trainable_gb == 0
    cpu = hardware('device = "cpu"\ncount = 4\nmemory_gb = 400')
    on_cpu = fit_training("full", toml("").full, LLAMA_7B, cpu, DATA, 7e9)
    assert on_cpu.parallel == "fsdp"  # 4 gloo processes share the machine's 400 GB: 100 GB each
    assert on_cpu.hardware.device_memory_gb == 100


def test_forced_ddp_that_cannot_fit_is_a_plan_error_with_the_numbers(plan) -> None:
    body = '[hardware.train]\ndevice = "cuda"\ngpu = "A100-80GB"\ncount = 8\nparallel = "ddp"\n'
    with pytest.raises(PlanError) as caught:
        plan(toml(STYLE + body, base="Llama-2-70B"))
    message = caught.value.render()
    assert "hardware.train.parallel = 'ddp'" in message and "GB per device" in message
    assert "FSDP full sharding fits" in message and 'parallel = "auto"' in message
    chosen = plan(toml(STYLE + body.replace('parallel = "ddp"', 'parallel = "auto"'), base="Llama-2-70B"))
    lora = decision(chosen, "lora")
    assert lora.decision == "chosen" and lora.estimate["parallel"] == "fsdp" and lora.estimate["devices"] == 8


def test_forced_fsdp_rejects_qlora_with_the_reason(plan) -> None:
    body = '[hardware.train]\ndevice = "cuda"\ngpu = "T4"\ncount = 2\nparallel = "fsdp"\n'
    no_lora = '[strategy]\nexclude = ["lora"]\n'
    qlora = decision(plan(toml(STYLE + no_lora + body, base="Llama-2-70B")), "qlora")
    assert qlora.decision == "rejected" and "FSDP" in qlora.reason
    with pytest.raises(PlanError, match="QLoRA does not run under FSDP"):
        plan(toml(STYLE + '[strategy]\ninclude = ["qlora"]\n' + body, base="Llama-2-70B"))


def test_nodes_multiply_devices_and_cost() -> None:
    two_nodes = hardware('device = "cuda"\ngpu = "H100-80GB"\ncount = 8\nnodes = 2')
    assert two_nodes.devices == 16 and two_nodes.short() == "2 nodes × 8× H100-80GB"
    plan = fit_training("full", toml("").full, LLAMA_7B, two_nodes, DATA, 7e9)
    assert plan.gpu_hours == pytest.approx(plan.wall_hours * 16)


@pytest.mark.parametrize(
    ("body", "key"),
    [("count = 0", "count"), ("nodes = 0", "nodes"), ('parallel = "zero3"', "parallel")],
)
def test_bad_parallel_input_names_the_key(body: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        toml(f"[hardware.train]\n{body}\n")
    assert f"hardware.train.{key}" in caught.value.render()


def test_mps_trains_on_one_device() -> None:
    with pytest.raises(ConfigError, match="one Apple GPU"):
        hardware('device = "mps"\ncount = 2')
