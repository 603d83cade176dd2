"""The stdlib GGUF header reader: model facts from the metadata, clear errors for files that are not whole GGUFs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adaptfile.errors import ConfigError
from adaptfile.plan.gguf_header import FILE_TYPES, GGML_TYPES, SkippedArray, read_gguf_header
from tiny_gguf import CONTEXT, FFN, HEADS, HIDDEN, KV_HEADS, LAYERS, expected_params, write_tiny_gguf

SRC = Path(__file__).resolve().parents[2] / "src"


def test_reads_the_model_facts(tmp_path: Path) -> None:
    header = read_gguf_header(write_tiny_gguf(tmp_path / "tiny.gguf", weights="Q4_1"))
    assert header.version == 3 and header.architecture == "llama"
    assert (header.block_count, header.embedding_length, header.head_count, header.head_count_kv) == (
        LAYERS, HIDDEN, HEADS, KV_HEADS,
    )  # fmt: skip
    assert (header.feed_forward_length, header.context_length, header.vocab_size) == (FFN, CONTEXT, 265)
    assert header.params == expected_params()
    assert header.quantization == "Q4_1" and header.tensor_types == {"Q4_1": 15, "F32": 5}
    assert header.has_chat_template
    assert header.metadata["general.name"] == "tiny-llama-test"


def test_matches_the_gguf_package(tmp_path: Path) -> None:
    """Every scalar key, every tensor's dims, type and offset, and the data offset agree with gguf.GGUFReader."""
    gguf = pytest.importorskip("gguf")
    path = write_tiny_gguf(tmp_path / "tiny.gguf", weights="Q8_0")
    header = read_gguf_header(path)
    reference = gguf.GGUFReader(path)
    for key, field in reference.fields.items():
        if key.startswith("GGUF."):
            continue
        ours = header.metadata[key]
        if isinstance(ours, SkippedArray):
            assert ours.count == len(field.data), key
        else:
            theirs = field.contents()
            assert ours == pytest.approx(theirs) if isinstance(theirs, float) else ours == theirs, key
    assert [(t.name, t.dims, t.ggml_type, t.offset) for t in header.tensors] == [
        (
            t.name,
            tuple(int(d) for d in t.shape),
            int(t.tensor_type),
            int(t.data_offset) - reference.data_offset,
        )
        for t in reference.tensors
    ]
    assert header.data_start == reference.data_offset
    assert header.params == sum(int(t.n_elements) for t in reference.tensors)


def test_quantization_falls_back_to_the_commonest_weight_type(tmp_path: Path) -> None:
    """A file without general.file_type (F32 here) is named after its 2-D tensors' type."""
    header = read_gguf_header(write_tiny_gguf(tmp_path / "f32.gguf", weights="F32"))
    assert "general.file_type" not in header.metadata and header.quantization == "F32"


def test_not_a_gguf_file(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_text("<html>404 Not Found</html>\n")
    with pytest.raises(ConfigError) as caught:
        read_gguf_header(tmp_path / "model.gguf")
    assert "model.base:" in caught.value.message and "is not a GGUF file" in caught.value.message
    assert "\n" not in caught.value.message and "point model.base at a .gguf" in caught.value.hint


def test_empty_file_names_the_key_given(tmp_path: Path) -> None:
    (tmp_path / "empty.gguf").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"model\.gguf_file: .* is not a GGUF file: it is 0 bytes long"):
        read_gguf_header(tmp_path / "empty.gguf", key="model.gguf_file")


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.01])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    """Cut inside the tensor data (0.5, 0.99: an interrupted download) or inside the header (0.01)."""
    whole = write_tiny_gguf(tmp_path / "whole.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(ConfigError) as caught:
        read_gguf_header(cut)
    assert "is a truncated GGUF file" in caught.value.message and "\n" not in caught.value.message
    assert "download or copy the file again" in caught.value.hint


def test_unsupported_version(tmp_path: Path) -> None:
    data = bytearray(write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes())
    data[4:8] = (1).to_bytes(4, "little")
    (tmp_path / "v1.gguf").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="is GGUF version 1; adaptfile reads versions 2, 3"):
        read_gguf_header(tmp_path / "v1.gguf")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.base: cannot read .*nope\.gguf"):
        read_gguf_header(tmp_path / "nope.gguf")


def test_reader_imports_neither_numpy_nor_torch(tmp_path: Path) -> None:
    """`adapt plan` must stay free of numpy/torch: reading a header (and checking it) loads neither."""
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    code = (
        "import sys, json; from pathlib import Path\n"
        "from adaptfile.plan.gguf_model import gguf_model_info\n"
        f"info = gguf_model_info(Path({str(path)!r}), 'tiny')\n"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch', 'gguf', 'transformers')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )
    assert json.loads(done.stdout) == []


def test_type_tables_match_the_gguf_package() -> None:
    """GGML_TYPES and FILE_TYPES were copied from gguf/constants.py; they still say what it says."""
    gguf = pytest.importorskip("gguf")
    assert {
        int(kind): (kind.name, *gguf.GGML_QUANT_SIZES[kind]) for kind in gguf.GGMLQuantizationType
    } == GGML_TYPES
    assert {
        int(kind): kind.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        for kind in gguf.LlamaFileType
        if kind.name != "GUESSED"
    } == FILE_TYPES
