"""The estimator against hand-computed numbers (PLANNER.md, "Estimates")."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from plan_worlds import MACHINE, corpus, decision, toml

from adaptfile.plan import estimate as est
from adaptfile.plan.fit import TrainData, fit_training
from adaptfile.plan.hardware import resolve_hardware
from adaptfile.plan.model_info import ModelInfo
from adaptfile.profile.model import DataProfile

LLAMA_7B = ModelInfo("llama-7b", 7_000_000_000, 7_000_000_000, 4096, 32, 32, 32, 11008, 32000, 4096)


def gpu(name: str, count: int = 1):
    return resolve_hardware(
        toml(f'[hardware.train]\ndevice = "cuda"\ngpu = "{name}"\ncount = {count}\n'), MACHINE
    ).train


def test_adapter_params_all_linear() -> None:
    # per layer: q,k,v,o 4 × 16 × (4096 + 4096); gate, up, down 3 × 16 × (4096 + 11008)
    per_layer = 4 * 16 * 8192 + 3 * 16 * 15104
    assert est.adapter_params(LLAMA_7B, 16, "all-linear") == 32 * per_layer == 39_976_960
    assert est.adapter_params(LLAMA_7B, 8, ["q_proj", "v_proj"]) == 32 * 2 * 8 * 8192


def test_prefix_params() -> None:
    assert est.prefix_params(LLAMA_7B, 20) == 20 * 32 * 2 * 4096


def test_training_memory_bytes_per_param() -> None:
    l4 = gpu("L4")
    lora = est.training_memory("lora", LLAMA_7B, l4, 40_000_000, 1, 512, True, "bf16")
    assert lora.weights_gb == pytest.approx(14.0)
    assert lora.trainable_gb == pytest.approx(0.64)
    qlora = est.training_memory("qlora", LLAMA_7B, l4, 40_000_000, 1, 512, True, "bf16")
    assert qlora.weights_gb == pytest.approx(3.85)
    full = est.training_memory("full", LLAMA_7B, l4, 7_000_000_000, 1, 512, True, "bf16")
    assert full.weights_gb == pytest.approx(112.0)
    four = gpu("A100-80GB", 4)
    replicated = est.training_memory("full", LLAMA_7B, four, 7_000_000_000, 1, 512, True, "bf16", "ddp")
    assert replicated.weights_gb == pytest.approx(112.0)
    sharded = est.training_memory("full", LLAMA_7B, four, 7_000_000_000, 1, 512, True, "bf16", "fsdp")
    gathered = 2 * 7e9 / 32 * 2 / 1e9  # two blocks of bf16 weights gathered at a time
    assert sharded.weights_gb == pytest.approx(112.0 / 4 + gathered)
    offload = est.training_memory("full", LLAMA_7B, four, 7_000_000_000, 1, 512, True, "bf16", "fsdp_offload")
    assert offload.weights_gb == pytest.approx(gathered) and offload.trainable_gb == 0
    fp32 = est.training_memory("lora", LLAMA_7B, l4, 0, 1, 512, True, "fp32")
    assert fp32.weights_gb == pytest.approx(28.0)


def test_activations_shrink_with_checkpointing() -> None:
    per_layer = 26 * 4096 + 2.6 * 11008  # values per token and layer: hidden-sized and MLP-sized tensors
    plain = est.activation_bytes(LLAMA_7B, 2, 1024, False, "bf16")
    assert plain == pytest.approx(2 * 1024 * 32 * per_layer * 2 + 2 * 1024 * 32000 * 6)
    ckpt = est.activation_bytes(LLAMA_7B, 2, 1024, True, "bf16")
    assert ckpt == pytest.approx(2 * 1024 * (32 * 4096 + per_layer) * 2 + 2 * 1024 * 32000 * 6)
    assert ckpt < plain / 5
    on_cpu = est.activation_bytes(LLAMA_7B, 2, 1024, False, "fp32", "cpu")  # the coefficients measured on CPU
    cpu_layer = 6.3 * 4096 + 1.9 * 11008
    assert on_cpu == pytest.approx(2 * 1024 * 32 * cpu_layer * 4 + 2 * 1024 * 32000 * 21 + 0.2e9)


def test_on_a_cpu_the_allocator_hold_counts_for_frozen_bases_only() -> None:
    """Peak RSS: LoRA's freed activation blocks stay with the allocator; full fine-tuning's gradients reuse them."""
    cpu = SimpleNamespace(device="cpu", count=1, devices=1)
    acts = est.activation_bytes(LLAMA_7B, 1, 512, False, "fp32", "cpu") / 1e9
    lora = est.training_memory("lora", LLAMA_7B, cpu, 0, 1, 512, False, "fp32")
    full = est.training_memory("full", LLAMA_7B, cpu, 0, 1, 512, False, "fp32")
    assert lora.activations_gb == pytest.approx(est.CPU_ALLOCATOR_HOLD * acts)
    assert full.activations_gb == pytest.approx(acts)


def test_flops_hours_and_cost() -> None:
    assert est.training_flops("full", LLAMA_7B, 1e6) == 6 * 7e9 * 1e6
    assert est.training_flops("lora", LLAMA_7B, 1e6) == pytest.approx(4 * 7e9 * 1e6)
    a100 = gpu("A100-80GB")
    assert est.wall_hours(1e18, a100) == pytest.approx(1e18 / (312e12 * 0.35 * 3600))  # 2.54 h
    assert est.wall_hours(1e18, gpu("A100-80GB", 4)) == pytest.approx(2.5437 / 4, rel=1e-3)
    assert est.wall_hours(1e18, a100, checkpointing=True) == pytest.approx(2.5437 * 4 / 3, rel=1e-3)


def test_a_run_costs_its_start_and_narrow_models_run_below_mfu() -> None:
    a100 = gpu("A100-80GB")
    wide = est.run_hours(1e18, a100, False, LLAMA_7B.hidden, 100)
    assert wide == pytest.approx(
        est.wall_hours(1e18, a100) + (est.RUN_START_S + 100 * est.STEP_OVERHEAD_S) / 3600
    )
    narrow = est.run_hours(1e15, a100, False, 64, 0) - est.RUN_START_S / 3600
    assert narrow == pytest.approx(4 * est.wall_hours(1e15, a100))  # a quarter of the MFU at 64 wide


def test_a_tiny_scratch_run_is_estimated_at_seconds_not_a_fraction(plan) -> None:
    body = (
        '[model]\nbase = "scratch"\n[model.scratch]\nlayers = 2\nhidden = 64\nheads = 4\n'
        'vocab_size = 2048\ncontext = 512\n[data.knowledge]\npaths = ["docs/*.md"]\n'
        '[hardware.train]\ndevice = "cpu"\n[pretrain]\nepochs = 20\n'
    )
    config = toml(body)
    seconds = (
        decision(plan(config, DataProfile(knowledge=corpus(4200))), "pretrain").estimate["wall_hours"] * 3600
    )
    flops_only = est.wall_hours(6 * 362_816 * 4200 * 20, resolve_hardware(config, MACHINE).train) * 3600
    assert seconds > est.RUN_START_S + 3 * flops_only


def test_compute_optimal_tokens() -> None:
    assert est.compute_optimal_tokens(7_000_000_000) == 140_000_000_000


def test_kv_cache_and_inference_memory() -> None:
    assert est.kv_cache_bytes(LLAMA_7B, 1000) == 2 * 32 * 32 * 128 * 2 * 1000 == 524_288_000
    l4 = gpu("L4")
    assert est.inference_memory_gb(LLAMA_7B, l4, 1000) == pytest.approx(1.2 * 14 + 0.524288)
    assert est.inference_memory_gb(LLAMA_7B, l4, 1000, four_bit=True) == pytest.approx(1.2 * 3.5 + 0.524288)


def test_fit_prefers_the_biggest_batch_that_fits_and_reports_gpu_hours() -> None:
    data = TrainData(tokens=300 * 200, longest=700, rows=300)
    plan = fit_training("lora", toml("").lora, LLAMA_7B, gpu("A100-80GB"), data, 39_976_960)
    assert plan.settings["max_seq_len"] == 1024
    assert plan.settings["precision"] == "bf16"
    # 59 packed sequences of 1024 → aim for 16 per step; 8 × 1024 tokens of activations (72 GB) do not fit
    # 72 GB usable, 4 do (36 GB + 14.6 GB weights and adapters) → batch 4 × accumulation 4
    assert (plan.settings["batch_size"], plan.settings["gradient_checkpointing"]) == (4, False)
    assert plan.settings["grad_accum"] == 4
    assert plan.tokens == 3 * 60_000
    assert plan.flops == pytest.approx(4 * 7e9 * 180_000)
    fixed = est.RUN_START_S + math.ceil(59 * 3 / 16) * est.STEP_OVERHEAD_S  # 12 optimizer steps
    assert plan.gpu_hours == pytest.approx(plan.flops / (312e12 * 0.35 * 3600) + fixed / 3600)
    assert plan.cost_usd == pytest.approx(plan.gpu_hours * 1.79)
    assert plan.estimate(LLAMA_7B)["label"].startswith("estimate, ±30%")


def test_fit_turns_on_checkpointing_before_giving_up_and_honours_overrides() -> None:
    data = TrainData(tokens=300 * 2000, longest=4000, rows=300)
    t4 = gpu("T4")
    plan = fit_training("qlora", toml("").qlora, LLAMA_7B, t4, data, 39_976_960)
    assert plan.settings["gradient_checkpointing"] is True
    assert plan.settings["precision"] == "fp16"  # T4 has no bf16
    assert plan.fits()
    knobs = toml("[qlora]\nbatch_size = 4\ngrad_accum = 2\ngradient_checkpointing = true\n").qlora
    fixed = fit_training("qlora", knobs, LLAMA_7B, t4, data, 39_976_960)
    assert (fixed.settings["batch_size"], fixed.settings["grad_accum"]) == (4, 2)
    cpu = resolve_hardware(toml(""), MACHINE).train
    assert fit_training("lora", toml("").lora, LLAMA_7B, cpu, data, 1).settings["precision"] == "fp32"


def test_7b_lora_does_not_fit_a_t4_but_qlora_does(plan) -> None:
    config = toml('[needs]\ncustom_style = true\n[hardware.train]\ndevice = "cuda"\ngpu = "T4"\n')
    result = plan(config)
    lora, qlora = decision(result, "lora"), decision(result, "qlora")
    assert lora.decision == "rejected" and "does not fit" in lora.reason
    assert lora.estimate["memory_gb"] > 0.9 * 16
    assert qlora.decision == "chosen" and "QLoRA fits" in qlora.reason
    assert qlora.estimate["memory_gb"] <= 0.9 * 16


def test_70b_qlora_does_not_fit_an_l4(plan) -> None:
    config = toml(
        '[needs]\ncustom_style = true\n[hardware.train]\ndevice = "cuda"\ngpu = "L4"\n', base="Llama-2-70B"
    )
    result = plan(config)
    qlora = decision(result, "qlora")
    assert qlora.decision == "rejected"
    assert qlora.estimate["memory_breakdown_gb"]["weights"] == pytest.approx(38.5)
    assert any("no fine-tuning method fits" in w for w in result.warnings)


def test_reasons_quote_the_numbers(plan) -> None:
    config = toml(
        '[needs]\ncustom_style = true\n[hardware.train]\ndevice = "cuda"\ngpu = "L4"\n', base="Qwen2.5-0.5B"
    )
    lora = decision(plan(config), "lora")
    assert lora.decision == "chosen"
    assert "GB est. of 24 GB on 1× L4" in lora.reason and "GPU-h" in lora.reason and "$" in lora.reason


def test_serve_latency_is_prefill_plus_decode() -> None:
    cpu = resolve_hardware(toml(""), MACHINE).serve
    ms = est.latency_ms(LLAMA_7B, cpu, 1000, 100)
    prefill = 1000 * 2 * 7e9 / (0.8e12 * 0.35)
    decode = 100 * 7e9 * 4 / 20e9
    assert ms == pytest.approx((prefill + decode) * 1000)


def test_lora_dropout_keeps_a_copy_of_every_adapted_input() -> None:
    """Each adapted matrix's lora_A saves its own dropped input (+ a byte of mask per value)."""
    per_layer = est.lora_dropout_inputs(LLAMA_7B, "all-linear")
    assert per_layer == 6 * 4096 + 11008  # q, k, v, o, gate, up read the hidden state; down the MLP width
    plain = est.activation_bytes(LLAMA_7B, 1, 512, False, "fp32", "cpu")
    dropped = est.activation_bytes(LLAMA_7B, 1, 512, False, "fp32", "cpu", dropout_inputs=per_layer)
    assert dropped - plain == pytest.approx(512 * 32 * per_layer * 5)
