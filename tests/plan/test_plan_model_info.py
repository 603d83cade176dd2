"""Model info from config.json, model.params, the model's name, or [model.scratch]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plan_worlds import toml

from adaptfile.errors import ConfigError
from adaptfile.plan.model_info import count_from_name, llama_params, resolve_model, scratch_intermediate

LLAMA2_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
}
QWEN25_05B = {
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
}
MIXTRAL = {**LLAMA2_7B, "model_type": "mixtral", "intermediate_size": 14336, "num_key_value_heads": 8,
           "num_local_experts": 8, "num_experts_per_tok": 2, "max_position_embeddings": 32768}  # fmt: skip


def write_model(root: Path, cfg: dict, name: str = "models/base") -> str:
    (root / name).mkdir(parents=True)
    (root / name / "config.json").write_text(json.dumps(cfg))
    return name


def test_llama2_7b_from_config_json(tmp_path: Path) -> None:
    name = write_model(tmp_path, LLAMA2_7B)
    info = resolve_model(toml("", base=name), tmp_path)
    assert info.params == 6_738_415_616  # Llama-2-7B's published count, norms included
    assert (info.hidden, info.layers, info.heads, info.kv_heads, info.vocab, info.context) == (
        4096, 32, 32, 32, 32000, 4096,
    )  # fmt: skip
    assert info.source == "config.json" and not info.approximate
    assert info.local_dir == name


def test_qwen_half_b_with_tied_embeddings(tmp_path: Path) -> None:
    info = resolve_model(toml("", base=write_model(tmp_path, QWEN25_05B)), tmp_path)
    assert info.params == pytest.approx(494e6, rel=0.01)  # Qwen2.5-0.5B: 494M (q/k/v biases aside)
    assert info.head_dim == 64


def test_mixture_of_experts_counts_all_experts_but_computes_with_two(tmp_path: Path) -> None:
    info = resolve_model(toml("", base=write_model(tmp_path, MIXTRAL)), tmp_path)
    assert info.params == pytest.approx(46.7e9, rel=0.01)
    assert info.active_params == pytest.approx(12.9e9, rel=0.01)
    assert info.experts == 8


def test_safetensors_index_gives_the_exact_count(tmp_path: Path) -> None:
    name = write_model(tmp_path, {**LLAMA2_7B, "torch_dtype": "bfloat16"})
    index = {"metadata": {"total_size": 2 * 6_000_000_000}, "weight_map": {}}
    (tmp_path / name / "model.safetensors.index.json").write_text(json.dumps(index))
    assert resolve_model(toml("", base=name), tmp_path).params == 6_000_000_000


def test_params_disagreeing_with_config_json_warns(tmp_path: Path) -> None:
    name = write_model(tmp_path, LLAMA2_7B)
    info = resolve_model(toml(f'[model]\nbase = "{name}"\nparams = "13B"\n'), tmp_path)
    assert info.params == 6_738_415_616
    assert any("disagrees" in note for note in info.notes)
    close = resolve_model(toml(f'[model]\nbase = "{name}"\nparams = "7B"\n'), tmp_path)
    assert close.notes == ()


def test_model_context_overrides(tmp_path: Path) -> None:
    name = write_model(tmp_path, LLAMA2_7B)
    assert resolve_model(toml(f'[model]\nbase = "{name}"\ncontext = 1024\n'), tmp_path).context == 1024


@pytest.mark.parametrize(
    ("name", "total", "active", "experts"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", 7e9, 7e9, 1),
        ("Qwen2.5-0.5B", 0.5e9, 0.5e9, 1),
        ("facebook/opt-125m", 125e6, 125e6, 1),
        ("meta-llama/Llama-2-70b-hf", 70e9, 70e9, 1),
        ("mistralai/Mixtral-8x7B-v0.1", 56e9, 14e9, 8),
        ("TinyLlama-1.1B-Chat-v1.0", 1.1e9, 1.1e9, 1),
    ],
)
def test_count_from_name(name: str, total: float, active: float, experts: int) -> None:
    assert count_from_name(name) == (int(total), int(active), experts)


def test_name_without_size_is_unknown() -> None:
    assert count_from_name("gpt2") is None


def test_from_name_is_approximate_with_a_plausible_shape(tmp_path: Path) -> None:
    info = resolve_model(toml("", base="Qwen/Qwen2.5-7B-Instruct"), tmp_path)
    assert info.params == 7_000_000_000
    assert (info.hidden, info.layers) == (4096, 32)
    assert info.approximate and info.source == "name"
    assert any("approximated" in note for note in info.notes)


def test_from_params(tmp_path: Path) -> None:
    info = resolve_model(toml('[model]\nbase = "acme/secret-model"\nparams = "70B"\n'), tmp_path)
    assert (info.params, info.hidden, info.layers, info.source) == (70_000_000_000, 8192, 80, "model.params")


def test_missing_count_asks_for_model_params(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_model(toml("", base="acme/secret-model"), tmp_path)
    assert "model.params" in err.value.hint


def test_scratch_uses_the_llama_formula(tmp_path: Path) -> None:
    body = (
        '[model]\nbase = "scratch"\n[model.scratch]\nlayers = 2\nhidden = 64\nheads = 4\nvocab_size = 2048\n'
    )
    info = resolve_model(toml(body), tmp_path)
    inter = scratch_intermediate(64)
    assert inter == 176
    per_layer = 4 * 64 * 64 + 3 * 64 * 176 + 2 * 64
    assert info.params == 2 * 2048 * 64 + 2 * per_layer + 64 == 362_816
    assert info.params == llama_params(64, 2, 176, 2048, 4, 4)
    assert (info.context, info.source) == (256, "scratch")
