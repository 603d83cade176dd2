"""The hardware catalog: tolerant lookup, errors that list the known GPUs, overrides, the measured cpu."""

from __future__ import annotations

import pytest
from plan_worlds import MACHINE, toml

from adaptfile.errors import ConfigError
from adaptfile.plan.hardware import CATALOG, lookup_gpu, measure_machine, resolve_hardware


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a100-80gb", "A100-80GB"),
        ("A100 80GB", "A100-80GB"),
        ("nvidia t4", "T4"),
        ("rtx 4090", "RTX4090"),
        ("4090", "RTX4090"),
        ("H100", "H100-80GB"),
        ("h200-141gb", "H200-141GB"),
        ("a10g", "A10G"),
        ("L4", "L4"),
    ],
)
def test_lookup_is_case_insensitive_and_tolerant(name: str, expected: str) -> None:
    spec, note = lookup_gpu(name)
    assert spec.name == expected
    assert note is None


def test_bare_a100_takes_the_smaller_variant_and_says_so() -> None:
    spec, note = lookup_gpu("A100")
    assert spec.name == "A100-40GB"
    assert note and "A100-80GB" in note


def test_unknown_gpu_names_the_key_and_lists_the_catalog() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_hardware(toml('[hardware.train]\ndevice = "cuda"\ngpu = "V100"\n'), MACHINE)
    assert "hardware.train.gpu" in err.value.message
    assert all(spec.name in err.value.hint for spec in CATALOG)
    assert err.value.exit_code == 3


def test_cuda_without_gpu_asks_for_hardware_train_gpu() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_hardware(toml('[hardware.train]\ndevice = "cuda"\n'), MACHINE)
    assert "hardware.train.gpu" in err.value.message
    assert "A100-80GB" in err.value.hint


def test_serve_gpu_errors_name_the_serve_table() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_hardware(toml('[hardware.serve]\ndevice = "cuda"\ngpu = "K80"\n'), MACHINE)
    assert "hardware.serve.gpu" in err.value.message


def test_catalog_figures_and_overrides() -> None:
    hw = resolve_hardware(toml('[hardware.train]\ndevice = "cuda"\ngpu = "L4"\ncount = 2\n'), MACHINE).train
    assert (hw.memory_gb, hw.tflops, hw.usd_per_hour, hw.four_bit, hw.count) == (24, 121, 0.80, True, 2)
    body = (
        '[hardware.train]\ndevice = "cuda"\ngpu = "L4"\nmemory_gb = 20\ntflops = 100.0\nusd_per_hour = 0.0\n'
    )
    hw = resolve_hardware(toml(body), MACHINE).train
    assert (hw.memory_gb, hw.tflops, hw.usd_per_hour) == (20, 100, 0)


def test_t4_has_no_bf16_but_has_4bit() -> None:
    spec, _ = lookup_gpu("T4")
    assert (spec.memory_gb, spec.bf16, spec.four_bit) == (16, False, True)


def test_cpu_is_measured_and_free() -> None:
    hw = resolve_hardware(toml(""), MACHINE).train
    assert hw.device == "cpu"
    assert hw.memory_gb == 64.0
    assert hw.tflops == pytest.approx(16 * 0.05)
    assert hw.usd_per_hour == 0.0
    assert hw.four_bit is False
    machine = measure_machine()
    assert machine.memory_gb > 0 and machine.cores >= 1


def test_gpu_on_cpu_device_is_ignored_with_a_note() -> None:
    hardware = resolve_hardware(toml('[hardware.train]\ngpu = "T4"\n'), MACHINE)
    assert hardware.train.device == "cpu"
    assert any("ignored" in note for note in hardware.notes)
