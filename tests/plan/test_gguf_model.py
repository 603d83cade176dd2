"""A GGUF base model for the planner: locating the file, what transformers can import, its ModelInfo."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.config import parse_config
from adaptfile.errors import ConfigError
from adaptfile.plan import gguf_model
from adaptfile.plan.gguf_header import read_gguf_header
from adaptfile.plan.gguf_model import (
    check_importable,
    gguf_model_info,
    import_step,
    locate_gguf,
    resolve_gguf_model,
)
from adaptfile.plan.model import StepSpec
from tiny_gguf import CONTEXT, FFN, HEADS, HIDDEN, KV_HEADS, LAYERS, expected_params, write_tiny_gguf


def config_with(base: str, gguf_file: str | None = None, context: int | None = None):
    lines = ["[project]", 'name = "demo"', "[model]", f"base = {base!r}"]
    lines += [f"gguf_file = {gguf_file!r}"] if gguf_file else []
    lines += [f"context = {context}"] if context else []
    return parse_config("\n".join(lines) + "\n")


def error_of(call) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call()
    assert "\n" not in caught.value.message and caught.value.hint
    return caught.value


def test_model_info_from_the_header(tmp_path: Path) -> None:
    info = gguf_model_info(write_tiny_gguf(tmp_path / "tiny.gguf", weights="Q4_1"), "tiny.gguf")
    assert (info.hidden, info.layers, info.heads, info.kv_heads, info.intermediate, info.vocab, info.context) == (
        HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, 265, CONTEXT,
    )  # fmt: skip
    assert info.params == info.active_params == expected_params() and info.experts == 1
    assert info.gated_mlp and info.source == "gguf" and not info.approximate
    assert "GGUF tiny.gguf (llama, Q4_1)" in info.notes[0] and "dequantized float32 weights" in info.notes[0]


def test_a_gguf_path_in_model_base(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_gguf(tmp_path / "models" / "tiny.gguf")
    info = resolve_gguf_model(config_with("models/tiny.gguf", context=128), tmp_path)
    assert info is not None and info.name == "models/tiny.gguf" and info.context == 128


def test_a_directory_and_model_gguf_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_gguf(tmp_path / "models" / "tiny.gguf")
    info = resolve_gguf_model(config_with("models", "tiny.gguf"), tmp_path)
    assert info is not None and info.layers == LAYERS


def test_other_bases_are_not_gguf(tmp_path: Path) -> None:
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    for base in ("Qwen/Qwen2.5-0.5B-Instruct", "scratch", "hf"):
        assert resolve_gguf_model(config_with(base), tmp_path) is None


def test_gguf_file_without_a_directory(tmp_path: Path) -> None:
    err = error_of(lambda: locate_gguf(config_with("Qwen/Qwen2.5-0.5B", "q.gguf").model, tmp_path))
    assert err.message.startswith(
        "model.gguf_file = 'q.gguf' without a directory: model.base = 'Qwen/Qwen2.5-0.5B'"
    )
    assert "set model.base to the directory that holds the .gguf file" in err.hint


def test_gguf_file_missing_from_its_directory_lists_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_gguf(tmp_path / "models" / "other.gguf")
    err = error_of(lambda: resolve_gguf_model(config_with("models", "tiny.gguf"), tmp_path))
    assert (
        err.message
        == f"model.gguf_file = 'tiny.gguf': no such file in {tmp_path / 'models'}; it holds other.gguf"
    )


def test_missing_gguf_path(tmp_path: Path) -> None:
    err = error_of(lambda: resolve_gguf_model(config_with("models/none.gguf"), tmp_path))
    assert err.message.startswith("model.base = 'models/none.gguf': no such file")


def test_directory_of_gguf_files_without_config_json_asks_for_gguf_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_gguf(tmp_path / "models" / "tiny.gguf")
    err = error_of(lambda: resolve_gguf_model(config_with("models"), tmp_path))
    assert "holds GGUF files (tiny.gguf) but no config.json" in err.message
    assert err.hint == "set model.gguf_file to one of them, e.g. gguf_file = 'tiny.gguf'"


def test_not_gguf_through_model_gguf_file_names_that_key(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.gguf").write_bytes(b"PK\x03\x04 a zip, not a gguf")
    err = error_of(lambda: resolve_gguf_model(config_with("models", "x.gguf"), tmp_path))
    assert err.message.startswith("model.gguf_file: ") and "is not a GGUF file" in err.message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"arch": "bert"}, "has GGUF architecture 'bert', which transformers cannot load from GGUF"),
        ({"arch": "t5"}, "is a 't5' model, an encoder(-decoder)"),
        ({"weights": "Q8_1"}, "holds tensors of type Q8_1, which transformers cannot dequantize for 'llama'"),
        ({"tokenizer": None}, "has no tokenizer"),
        ({"tokenizer": "bert"}, "has tokenizer type 'bert'"),
    ],
)
def test_what_transformers_cannot_import_is_a_config_error(
    tmp_path: Path, options: dict, expected: str
) -> None:
    header = read_gguf_header(write_tiny_gguf(tmp_path / "x.gguf", **options))
    err = error_of(lambda: check_importable(header, "model.base"))
    assert err.message.startswith("model.base: x.gguf ") and expected in err.message


@pytest.mark.parametrize("weights", ["Q8_0", "Q4_1", "Q5_0", "F16", "F32"])
def test_common_quantizations_are_importable(tmp_path: Path, weights: str) -> None:
    check_importable(read_gguf_header(write_tiny_gguf(tmp_path / "x.gguf", weights=weights)))


def test_support_tables_match_the_installed_transformers_and_gguf() -> None:
    """The constants copied into gguf_model.py still say what the installed loaders do."""
    pytest.importorskip("gguf")
    from gguf import GGMLQuantizationType
    from gguf.quants import _type_traits
    from transformers.integrations.gguf.dequant import GGML_NAME
    from transformers.integrations.gguf.gguf_conversion_mapping import GGUF_ARCHS
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_TYPES
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    legacy = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
    loadable = gguf_model.CAUSAL_ARCHITECTURES | gguf_model.ENCODER_ARCHITECTURES
    assert legacy | set(GGUF_ARCHS) <= loadable
    assert set(GGUF_ARCHS) == gguf_model.NEW_LOADER_ARCHITECTURES
    assert {"F32", "F16"} | {t.name for t in _type_traits} == gguf_model.LEGACY_TYPES
    assert {"F32", "F16", "BF16"} | set(GGML_NAME.values()) == gguf_model.NEW_LOADER_TYPES
    assert set(GGUF_TOKENIZER_TYPES) == gguf_model.TOKENIZER_TYPES
    assert all(name in GGMLQuantizationType.__members__ for name in gguf_model.LEGACY_TYPES)


def test_import_step_reads_the_gguf_and_no_params() -> None:
    assert import_step(config_with("models/tiny.gguf").model) == StepSpec(
        "model.import", "model.import", (), {}, ("models/tiny.gguf",)
    )
    assert import_step(config_with("/opt/models/", "x.gguf").model).inputs == ("/opt/models/x.gguf",)
    assert import_step(config_with("Qwen/Qwen2.5-0.5B").model) is None
    assert import_step(config_with("scratch").model) is None
