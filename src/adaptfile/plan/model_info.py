"""What the planner knows about the base model: parameter count and architecture, from JSON only."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.config.model import AdaptConfig, parse_param_count
from adaptfile.errors import ConfigError
from adaptfile.hub.cache import looks_like_repo_id

if TYPE_CHECKING:
    from adaptfile.hub.pin import HubPin

DEFAULT_CONTEXT = 4096
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
_GATED = ("llama", "mistral", "mixtral", "qwen", "gemma", "phi3", "olmo", "deepseek", "yi", "internlm")
# (params, hidden, layers, heads, kv_heads, intermediate, vocab): typical shapes by size
_REFERENCE_SHAPES = (
    (125e6, 768, 12, 12, 12, 3072, 50257),
    (350e6, 1024, 24, 16, 16, 4096, 50257),
    (0.5e9, 896, 24, 14, 2, 4864, 151936),
    (1.3e9, 2048, 24, 16, 16, 8192, 50257),
    (1.5e9, 1536, 28, 12, 2, 8960, 151936),
    (3e9, 3072, 28, 24, 8, 8192, 128256),
    (7e9, 4096, 32, 32, 32, 11008, 32000),
    (13e9, 5120, 40, 40, 40, 13824, 32000),
    (34e9, 8192, 48, 64, 8, 22016, 32000),
    (70e9, 8192, 80, 64, 8, 28672, 32000),
    (405e9, 16384, 126, 128, 8, 53248, 128256),
)
_NAME_MOE = re.compile(r"(?<![0-9a-z.])(\d+)x(\d+(?:\.\d+)?)([bm])(?![a-z])", re.IGNORECASE)
_NAME_SIZE = re.compile(r"(?<![0-9a-z.])(\d+(?:\.\d+)?)([bm])(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class ModelInfo:
    """Parameter count and the shape figures activation and KV-cache estimates need."""

    name: str
    params: int  # total parameters (memory)
    active_params: int  # parameters used per token (compute); < params for mixture-of-experts
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    context: int
    experts: int = 1
    gated_mlp: bool = True  # gate/up/down (Llama-like) rather than up/down
    source: str = "config.json"  # config.json | model.params | name | scratch
    approximate: bool = False  # architecture guessed from the parameter count
    local_dir: str | None = None  # model.base when it is a directory under the project
    commit: str | None = None  # the pinned hub commit, for a hub model
    notes: tuple[str, ...] = ()

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class EmbedderRef:
    """How the steps that embed name the embedder's exact weights: a hub commit or a package version
    (`revision`), or the files of a local directory (`local_dir`, project-relative or absolute)."""

    name: str
    revision: str | None = None
    local_dir: str | None = None

    def params(self) -> dict[str, Any]:
        """The step params: the configured name, and the revision when it is not a local directory."""
        return {
            "rag.embed_model": self.name,
            **({"rag.embed_revision": self.revision} if self.revision else {}),
        }

    def inputs(self) -> tuple[str, ...]:
        """Input globs: every file of a local embedder directory (weights, tokenizer, pooling config)."""
        return (f"{self.local_dir.rstrip('/')}/**",) if self.local_dir else ()


def resolve_embedder(name: str, root: Path, pin: HubPin | None = None) -> EmbedderRef:
    """The embedder's identity: a local directory's files, the packaged MiniLM's version, or a hub pin."""
    local = Path(name).expanduser()
    local = local if local.is_absolute() else root / local
    if local.is_dir():
        return EmbedderRef(name, local_dir=name)
    from adaptfile.knowledge.embedders import packaged_version

    if version := packaged_version(name):
        return EmbedderRef(name, revision=version)
    return EmbedderRef(name, revision=pin.commit if pin else None)


def llama_params(
    hidden: int, layers: int, intermediate: int, vocab: int, kv_heads: int, heads: int, tied: bool = False
) -> int:
    """The standard Llama count: embeddings + layers × (attention + gated MLP + 2 norms) + head."""
    kv = kv_heads * (hidden // heads)
    attention = 2 * hidden * hidden + 2 * hidden * kv
    per_layer = attention + 3 * hidden * intermediate + 2 * hidden
    return vocab * hidden * (1 if tied else 2) + layers * per_layer + hidden


def scratch_intermediate(hidden: int) -> int:
    """Llama's MLP width, 8/3 × hidden, rounded up to a multiple of 8 (fine for toy sizes too)."""
    return 8 * math.ceil(8 * hidden / 3 / 8)


def resolve_model(config: AdaptConfig, root: Path, pin: HubPin | None = None) -> ModelInfo:
    """ModelInfo from [model.scratch], a local config.json, the pinned hub commit's config.json,
    model.params or the model's name."""
    m = config.model
    if m.base == "scratch":
        s = m.scratch
        inter = scratch_intermediate(s.hidden)
        count = llama_params(s.hidden, s.layers, inter, s.vocab_size, s.heads, s.heads)
        return ModelInfo(
            "scratch", count, count, s.hidden, s.layers, s.heads, s.heads, inter, s.vocab_size,
            s.context, source="scratch",
        )  # fmt: skip
    from adaptfile.plan.gguf_model import resolve_gguf_model

    if (gguf := resolve_gguf_model(config, root)) is not None:
        return gguf
    directory = root / m.base
    if directory.is_dir() and not (directory / "config.json").is_file():
        raise ConfigError(
            f"model.base = {m.base!r}: the directory {directory} has no config.json",
            hint="point model.base at a Hugging Face model directory (config.json, tokenizer files, "
            "*.safetensors weights), or at a hub id",
        )
    if not directory.is_dir() and not looks_like_repo_id(m.base):
        raise ConfigError(
            f"model.base = {m.base!r}: no such directory ({directory}), and not a hub id",
            hint="fix the path (relative to the directory of adapt.toml), or write a hub id such as "
            '"Qwen/Qwen2.5-0.5B-Instruct"',
        )
    config_file = directory / "config.json" if directory.is_dir() else _hub_config(pin)
    if config_file is not None:
        if directory.is_dir():
            check_weights(directory, m.base)
        elif pin is not None and pin.files:
            check_repo_weights(pin.files, m.base, required=True)
        info = from_config_json(config_file.parent, m.base, config_file)
        check_remote_code(config_file, info, m.trust_remote_code)
        if not directory.is_dir():
            info = replace(info, local_dir=None, commit=pin.commit if pin else None)
        if m.context:
            info = replace(info, context=m.context)
        if m.params is not None:
            stated = parse_param_count(m.params)
            if abs(stated - info.params) > 0.2 * info.params:
                note = (
                    f"model.params = {m.params!r} disagrees with {m.base}/config.json "
                    f"(≈{format_count(info.params)}); using config.json"
                )
                info = replace(info, notes=(*info.notes, note))
        return info
    commit = pin.commit if pin else None
    if m.params is not None:
        return replace(
            from_count(m.base, parse_param_count(m.params), "model.params", m.context), commit=commit
        )
    guessed = count_from_name(m.base)
    if guessed is None:
        raise ConfigError(
            f"model.base = {m.base!r}: cannot tell the parameter count",
            hint='set model.params (e.g. params = "7B"), or point model.base at a directory with config.json',
        )
    total, active, experts = guessed
    info = replace(from_count(m.base, total, "name", m.context), commit=commit)
    if experts > 1:
        note = f"{m.base}: mixture of {experts} experts; memory counts all {format_count(total)} parameters"
        info = replace(info, active_params=active, experts=experts, notes=(*info.notes, note))
    return info


def _hub_config(pin: HubPin | None) -> Path | None:
    """The pinned commit's config.json: from the cache, or downloaded when the hub is reachable."""
    if pin is None:
        return None
    from adaptfile.hub import fetch_file

    path = fetch_file(pin.repo, pin.commit, "config.json", "model.base")
    return Path(path) if path else None


def check_remote_code(path: Path, info: ModelInfo, trusted: bool) -> None:
    """Refuse, at plan time, a model whose config.json needs the repository's own Python code."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        auto_map, model_type = cfg.get("auto_map"), str(cfg.get("model_type", ""))
    except (OSError, ValueError, AttributeError):
        return
    if trusted or not isinstance(auto_map, dict) or not auto_map or native_architecture(model_type):
        return
    entry = auto_map.get("AutoModelForCausalLM") or next(iter(auto_map.values()))
    raise ConfigError(
        f"model.base = {info.name!r}: config.json needs the repository's own code "
        f"(auto_map: {entry}), and model.trust_remote_code is false",
        hint="read that code, then set trust_remote_code = true under [model]; or pick a model that "
        "transformers supports natively",
    )


def native_architecture(model_type: str) -> bool:
    """Transformers has its own code for `model_type` (then it ignores auto_map, e.g. Phi-3's repos).
    Looked up as transformers/models/<type>/ on disk: importing transformers would cost seconds."""
    import importlib.util

    spec = importlib.util.find_spec("transformers")
    if not model_type or spec is None or not spec.submodule_search_locations:
        return False
    name = model_type.replace("-", "_")
    return any((Path(p) / "models" / name).is_dir() for p in spec.submodule_search_locations)


def from_config_json(directory: Path, name: str, path: Path | None = None) -> ModelInfo:
    """Read config.json (and the safetensors index, when present) of a model directory or snapshot."""
    path = path or directory / "config.json"
    try:
        cfg: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"{name}/config.json: cannot read: {err}", hint="fix the file or set model.params"
        ) from None
    if not isinstance(cfg, dict):
        raise ConfigError(
            f"{name}/config.json: expected a JSON object, got {type(cfg).__name__}",
            hint="fix the file (a Hugging Face config.json is one JSON object) or set model.params",
        )
    text_config = cfg.get("text_config")
    cfg = {**(text_config if isinstance(text_config, dict) else {}), **cfg}
    hidden = _first(cfg, "hidden_size", "n_embd", "d_model")
    layers = _first(cfg, "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(cfg, "num_attention_heads", "n_head", "num_heads")
    if not (hidden and layers and heads):
        raise ConfigError(
            f"{name}/config.json: no hidden size / layer count / head count",
            hint="set model.params so the planner can estimate",
        )
    kv_heads = _first(cfg, "num_key_value_heads", "num_kv_heads") or heads
    vocab = _first(cfg, "vocab_size") or 32000
    context = _first(cfg, "max_position_embeddings", "n_positions", "n_ctx", "max_seq_len") or DEFAULT_CONTEXT
    model_type = str(cfg.get("model_type", "")).lower()
    gated = any(model_type.startswith(t) for t in _GATED)
    intermediate = _first(cfg, "intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    experts = _first(cfg, "num_local_experts", "num_experts", "n_routed_experts") or 1
    per_token = min(_first(cfg, "num_experts_per_tok", "moe_top_k") or experts, experts)
    tied = bool(cfg.get("tie_word_embeddings", not gated))
    kv = kv_heads * (hidden // heads)
    mlp = (3 if gated else 2) * hidden * intermediate
    attention = 2 * hidden * hidden + 2 * hidden * kv
    embed = vocab * hidden * (1 if tied else 2)
    total = embed + layers * (attention + experts * mlp + 2 * hidden) + hidden
    active = embed + layers * (attention + per_token * mlp + 2 * hidden) + hidden
    indexed = _count_from_index(directory, cfg)
    if indexed and experts == 1:
        total = active = indexed
    return ModelInfo(
        name=name, params=total, active_params=active, hidden=hidden, layers=layers, heads=heads,
        kv_heads=kv_heads, intermediate=intermediate, vocab=vocab, context=context, experts=experts,
        gated_mlp=gated, source="config.json", local_dir=name,
    )  # fmt: skip


PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "*.pickle")


def check_weights(directory: Path, name: str, required: bool = False) -> None:
    """Refuse a model directory whose weights are pickle files only (unpickling can run arbitrary code);
    with `required` (a build, not a plan), also one without any weights."""
    check_repo_weights(tuple(p.name for p in directory.iterdir()), name, str(directory), required)


def check_repo_weights(
    files: tuple[str, ...], name: str, where: str | None = None, required: bool = False
) -> None:
    """The same check on a list of file names (a local directory or a hub repository's files)."""
    where = where or f"the repository {name}"
    if any(f.endswith(".safetensors") for f in files):
        return
    pickled = sorted(
        f for f in files if Path(f).match("*.*") and any(Path(f).match(p) for p in PICKLE_WEIGHTS)
        and not Path(f).name.startswith("training_args")
    )  # fmt: skip
    if not pickled and required:
        raise ConfigError(
            f"model.base = {name!r}: {where} has no weights (no *.safetensors file)",
            hint="point model.base at a complete model (config.json, tokenizer files, *.safetensors), "
            "or save one there with `model.save_pretrained(dir)`",
        )
    if pickled:
        raise ConfigError(
            f"model.base = {name!r}: {where} holds only pickle weights ({', '.join(pickled)}); "
            "adaptfile loads safetensors only, because unpickling a checkpoint can run arbitrary code",
            hint="convert the weights once in a trusted environment, e.g. "
            "`AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`, "
            "then remove the .bin files",
        )


def from_count(name: str, count: int, source: str, context: int | None = None) -> ModelInfo:
    """A plausible architecture for a bare parameter count, from the nearest typical shape."""
    ref = min(_REFERENCE_SHAPES, key=lambda r: abs(math.log(r[0]) - math.log(count)))
    _, hidden, layers, heads, kv_heads, inter, vocab = ref
    note = (
        f"architecture of {name} approximated from its size ({format_count(count)}: "
        f"hidden {hidden}, {layers} layers); point model.base at a directory with config.json for exact figures"
    )
    return ModelInfo(
        name=name, params=count, active_params=count, hidden=hidden, layers=layers, heads=heads,
        kv_heads=kv_heads, intermediate=inter, vocab=vocab, context=context or DEFAULT_CONTEXT,
        source=source, approximate=True, notes=(note,),
    )  # fmt: skip


def count_from_name(name: str) -> tuple[int, int, int] | None:
    """(total, active, experts) from a name: "Qwen2.5-7B-Instruct", "opt-125m", "Mixtral-8x7B".

    A mixture "8x7B" counts 8 × 7B in memory (an upper bound: experts share attention) and
    2 × 7B per token (top-2 routing).
    """
    base = name.rsplit("/", 1)[-1]
    moe = _NAME_MOE.search(base)
    if moe:
        experts, size = int(moe.group(1)), float(moe.group(2)) * _unit(moe.group(3))
        return int(experts * size), int(min(2, experts) * size), experts
    sizes = [float(n) * _unit(u) for n, u in _NAME_SIZE.findall(base)]
    if not sizes:
        return None
    return int(max(sizes)), int(max(sizes)), 1


def format_count(count: float) -> str:
    """7_615_616_512 → "7.6B", 494_032_768 → "494M"."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            value = count / scale
            return f"{value:.2g}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(int(count))


def _unit(letter: str) -> float:
    return 1e9 if letter.lower() == "b" else 1e6


def _first(cfg: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _count_from_index(directory: Path, cfg: dict[str, Any]) -> int | None:
    """Parameters from model.safetensors.index.json's total_size, when it exists."""
    index = directory / "model.safetensors.index.json"
    if not index.is_file():
        return None
    try:
        size = json.loads(index.read_text(encoding="utf-8"))["metadata"]["total_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    width = _DTYPE_BYTES.get(str(cfg.get("torch_dtype", "bfloat16")), 2)
    return int(size) // width if isinstance(size, int) and size > 0 else None
