"""Read a GGUF file's header (metadata and tensor table) without its tensor data, in the standard library only.

Hand-written rather than `gguf.GGUFReader` or transformers' reader: both import numpy (transformers'
reader imports torch too), and `adapt plan` must stay free of numpy/torch and under 0.5 s. The
format is small and stable (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): a magic,
a version, typed key-value metadata, then one entry per tensor (name, dims, type, offset). The
file is memory-mapped, so the tensor data (98 MB for SmolLM2-135M Q4_1) is never read.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from adaptfile.errors import ConfigError

MAGIC = b"GGUF"
VERSIONS = (2, 3)  # v1 counted with 32-bit integers and has not been written since 2023
DEFAULT_ALIGNMENT = 32

# Metadata value types (gguf.md "gguf_metadata_value_type"): the fixed-width ones as struct readers.
_SCALAR = {
    code: struct.Struct(fmt)
    for code, fmt in {
        0: "<B",
        1: "<b",
        2: "<H",
        3: "<h",
        4: "<I",
        5: "<i",
        6: "<f",
        7: "<?",
        10: "<Q",
        11: "<q",
        12: "<d",
    }.items()
}
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
# Arrays up to this length are kept (per-layer head counts, languages); longer ones (the 49152-token
# vocabulary, its merges) are skipped and stored as SkippedArray.
_KEPT_ARRAY_LENGTH = 1024

# ggml tensor types: id → (name, elements per block, bytes per block). Copied from gguf 0.19.0
# (gguf/constants.py: GGMLQuantizationType, GGML_QUANT_SIZES), which mirrors ggml.h's `enum ggml_type`.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}  # fmt: skip
# general.file_type → the quantization name llama.cpp gives the file (gguf 0.19.0 LlamaFileType).
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
    36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}  # fmt: skip


@dataclass(frozen=True)
class SkippedArray:
    """A long metadata array the reader walked past: its length only."""

    count: int


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table: where a tensor lives and how it is stored."""

    name: str
    dims: tuple[int, ...]  # ggml order: fastest-moving first
    ggml_type: int
    offset: int  # from the start of the data section

    @property
    def elements(self) -> int:
        return prod(self.dims)

    @property
    def type_name(self) -> str:
        return GGML_TYPES[self.ggml_type][0] if self.ggml_type in GGML_TYPES else f"unknown({self.ggml_type})"

    @property
    def nbytes(self) -> int | None:
        """Bytes in the file, or None for a type this table does not know."""
        if self.ggml_type not in GGML_TYPES:
            return None
        _, block, size = GGML_TYPES[self.ggml_type]
        return self.elements // block * size


@dataclass(frozen=True)
class GgufHeader:
    """A GGUF file's metadata and tensor table; the model facts the planner needs are properties."""

    path: Path
    version: int
    metadata: dict[str, Any]  # arrays longer than _KEPT_ARRAY_LENGTH are SkippedArray
    tensors: tuple[TensorInfo, ...]
    data_start: int  # where the tensor data section begins
    file_size: int

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str) -> Any:
        """`<architecture>.<key>`, e.g. arch_value("block_count") → llama.block_count."""
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def block_count(self) -> int | None:
        return _largest(self.arch_value("block_count"))

    @property
    def embedding_length(self) -> int | None:
        return _largest(self.arch_value("embedding_length"))

    @property
    def head_count(self) -> int | None:
        return _largest(self.arch_value("attention.head_count"))

    @property
    def head_count_kv(self) -> int | None:
        """KV heads; per-layer lists (hybrid models such as LFM2) give the largest."""
        return _largest(self.arch_value("attention.head_count_kv")) or self.head_count

    @property
    def feed_forward_length(self) -> int | None:
        return _largest(self.arch_value("feed_forward_length"))

    @property
    def context_length(self) -> int | None:
        return _largest(self.arch_value("context_length"))

    @property
    def vocab_size(self) -> int | None:
        """`<arch>.vocab_size`, else the length of the tokenizer's token list (as transformers does)."""
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        count = tokens.count if isinstance(tokens, SkippedArray) else len(tokens or ())
        return _largest(self.arch_value("vocab_size")) or count or None

    @property
    def expert_count(self) -> int:
        return _largest(self.arch_value("expert_count")) or 1

    @property
    def experts_per_token(self) -> int:
        return min(_largest(self.arch_value("expert_used_count")) or self.expert_count, self.expert_count)

    @property
    def has_chat_template(self) -> bool:
        return bool(self.metadata.get("tokenizer.chat_template"))

    @property
    def params(self) -> int:
        """Parameters: the sum of every tensor's element count (tied embeddings are stored once)."""
        return sum(t.elements for t in self.tensors)

    @property
    def tensor_types(self) -> dict[str, int]:
        """Tensor type name → how many tensors use it, most common first."""
        return dict(Counter(t.type_name for t in self.tensors).most_common())

    @property
    def quantization(self) -> str:
        """The file's quantization as llama.cpp names it ("Q4_1", "Q4_K_M"), else its weights' commonest type."""
        file_type = self.metadata.get("general.file_type")
        if isinstance(file_type, int) and file_type in FILE_TYPES:
            return FILE_TYPES[file_type]
        weights = Counter({t.type_name: t.elements for t in self.tensors if len(t.dims) > 1})
        return weights.most_common(1)[0][0] if weights else "F32"


def read_gguf_header(path: Path, key: str = "model.base") -> GgufHeader:
    """The header of the GGUF file at `path`; a ConfigError naming `key` if it is not a whole GGUF file."""
    try:
        with open(path, "rb") as handle:
            size = path.stat().st_size
            if size < 4:
                raise _not_gguf(path, key, f"it is {size} bytes long")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as blob:
                return _parse(path, blob, size, key)
    except OSError as err:
        raise ConfigError(
            f"{key}: cannot read {path}: {err.strerror or err}",
            hint=f"check the path and permissions in {key}",
        ) from None


class _Truncated(Exception):
    """The header runs past the end of the file."""


def _parse(path: Path, blob: mmap.mmap, size: int, key: str) -> GgufHeader:
    if blob[:4] != MAGIC:
        raise _not_gguf(path, key, f"it starts with {bytes(blob[:4])!r}, not the GGUF magic {MAGIC!r}")
    cursor = _Cursor(blob, size)
    try:
        version = cursor.unpack(_U32)
        if version not in VERSIONS:
            raise ConfigError(
                f"{key}: {path} is GGUF version {version}; adaptfile reads versions "
                f"{', '.join(map(str, VERSIONS))}",
                hint="convert the file with a current llama.cpp (convert_hf_to_gguf.py) or use another file",
            )
        tensor_count, kv_count = cursor.unpack(_U64), cursor.unpack(_U64)
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            name = cursor.string()
            metadata[name] = cursor.value(cursor.unpack(_U32))
        tensors = tuple(cursor.tensor_info() for _ in range(tensor_count))
    except _Truncated:
        raise _truncated(path, key, f"its header runs past the end of the file ({size} bytes)") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise _not_gguf(path, key, f"its header is malformed ({err})") from None
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = DEFAULT_ALIGNMENT
    data_start = -(-cursor.pos // alignment) * alignment
    header = GgufHeader(path, version, metadata, tensors, data_start, size)
    needed = max((data_start + t.offset + (t.nbytes or 0) for t in tensors), default=cursor.pos)
    if needed > size:
        raise _truncated(path, key, f"it is {size:,} bytes but its tensors end at byte {needed:,}")
    if not header.architecture:
        raise _not_gguf(path, key, "its metadata has no general.architecture")
    return header


class _Cursor:
    """Reads little-endian GGUF values from a buffer, raising _Truncated at its end."""

    def __init__(self, blob: mmap.mmap, size: int) -> None:
        self.blob, self.size, self.pos = blob, size, 4

    def unpack(self, reader: struct.Struct) -> Any:
        if self.pos + reader.size > self.size:
            raise _Truncated
        (value,) = reader.unpack_from(self.blob, self.pos)
        self.pos += reader.size
        return value

    def string(self) -> str:
        length = self.unpack(_U64)
        start, self.pos = self.pos, self.pos + length
        if self.pos > self.size:
            raise _Truncated
        return self.blob[start : self.pos].decode("utf-8")

    def value(self, value_type: int) -> Any:
        if value_type in _SCALAR:
            return self.unpack(_SCALAR[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type != _ARRAY:
            raise ValueError(f"unknown metadata value type {value_type}")
        item_type, count = self.unpack(_U32), self.unpack(_U64)
        if count <= _KEPT_ARRAY_LENGTH:
            return [self.value(item_type) for _ in range(count)]
        if item_type in _SCALAR:
            self.pos += count * _SCALAR[item_type].size
        elif item_type == _STRING:
            self._skip_strings(count)
        else:
            raise ValueError(f"an array of {count:,} values of type {item_type}")
        if self.pos > self.size:
            raise _Truncated
        return SkippedArray(count)

    def _skip_strings(self, count: int) -> None:
        """Walk past `count` strings: they vary in length, so there is no jumping over them."""
        blob, pos, size, length_at = self.blob, self.pos, self.size, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise _Truncated
            pos += 8 + length_at(blob, pos)[0]
        self.pos = pos

    def tensor_info(self) -> TensorInfo:
        name = self.string()
        n_dims = self.unpack(_U32)
        if n_dims > 8:  # ggml has GGML_MAX_DIMS = 4; a larger count means the bytes are not a tensor table
            raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
        dims = tuple(self.unpack(_U64) for _ in range(n_dims))
        return TensorInfo(name, dims, self.unpack(_U32), self.unpack(_U64))


def _largest(value: Any) -> int | None:
    """A positive int from a scalar or a per-layer list (its largest element)."""
    if isinstance(value, list):
        value = max((v for v in value if isinstance(v, int)), default=None)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _not_gguf(path: Path, key: str, why: str) -> ConfigError:
    return ConfigError(
        f"{key}: {path} is not a GGUF file: {why}",
        hint=f"point {key} at a .gguf model file (llama.cpp / Ollama / LM Studio format), "
        "or at a Hugging Face model directory with config.json",
    )


def _truncated(path: Path, key: str, why: str) -> ConfigError:
    return ConfigError(
        f"{key}: {path} is a truncated GGUF file: {why}",
        hint="download or copy the file again (an interrupted download leaves it short)",
    )
