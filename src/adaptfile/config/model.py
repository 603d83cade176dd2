"""The pydantic model of adapt.toml v1: every table, field, default and allowed range."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

Task = Literal["qa", "classify", "extract", "summarize", "chat", "generate"]
Strategy = Literal["icl", "rag", "lora", "qlora", "prefix", "full", "cpt", "pretrain", "embedder"]
STRATEGIES: tuple[str, ...] = ("icl", "rag", "lora", "qlora", "prefix", "full", "cpt", "pretrain", "embedder")
ExampleFormat = Literal["auto", "messages", "alpaca", "prompt-completion", "text-label"]
ChangeRate = Literal["never", "yearly", "monthly", "weekly", "daily", "hourly"]
Device = Literal["cpu", "cuda", "mps"]
Metric = Literal["exact_match", "f1", "rouge_l", "accuracy", "hit_rate", "mrr", "answer_nll"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]

_PARAMS_RE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_param_count(value: str | int | float) -> int:
    """Turn "7B", "0.5b", "125M", "1.3e9" or a number into a parameter count."""
    if isinstance(value, bool):
        raise ValueError('expected a parameter count such as "7B", "500M" or 7000000000')
    if isinstance(value, int | float):
        count = float(value)
    else:
        match = _PARAMS_RE.match(value)
        if not match:
            raise ValueError(
                f'cannot read {value!r} as a parameter count; write e.g. "7B", "500M" or 7000000000'
            )
        count = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if count < 1:
        raise ValueError("a parameter count must be at least 1")
    return int(count)


def _check_params(value: str | int | float) -> str | int | float:
    parse_param_count(value)
    return value


def _positive_or_auto(value: int | str) -> int | str:
    if value == "auto" or (isinstance(value, int) and value >= 1):
        return value
    raise ValueError('expected a positive integer or "auto"')


ParamCount = Annotated[str | int | float, AfterValidator(_check_params)]
AutoInt = Annotated[int | Literal["auto"], AfterValidator(_positive_or_auto)]
AutoBool = bool | Literal["auto"]


class Table(BaseModel):
    """A table of adapt.toml: unknown keys are errors, values are immutable, TOML types are strict."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ProjectConfig(Table):
    name: str = Field(min_length=1, description="Project name; names the build and the served model.")
    task: Task = Field("qa", description="What the model must do; picks templates and metrics.")
    instruction: str = Field("", description="Task description, used as the system prompt.")
    seed: int = Field(0, ge=0, description="Seed for data order, shot selection and training.")


class ScratchConfig(Table):
    layers: int = Field(2, ge=1, le=256, description="Transformer layers of a from-scratch model.")
    hidden: int = Field(64, ge=8, description="Hidden size of a from-scratch model.")
    heads: int = Field(4, ge=1, description="Attention heads of a from-scratch model.")
    vocab_size: int = Field(2048, ge=256, description="Tokenizer vocabulary trained on the corpus.")
    context: int = Field(256, ge=16, description="Maximum sequence length of a from-scratch model.")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ScratchConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        return self


class ModelConfig(Table):
    base: str = Field(
        min_length=1,
        description='Hub id, local directory, .gguf file, or "scratch" to train a new model.',
    )
    revision: str = Field("main", min_length=1, description="Hub revision, pinned into adapt.lock.")
    params: ParamCount | None = Field(
        None, description='Parameter count ("7B", "500M") when config.json cannot tell it.'
    )
    context: int | None = Field(
        None, ge=16, description="Context window in tokens when config.json cannot tell it."
    )
    gguf_file: str | None = Field(
        None,
        min_length=1,
        description="Name of a .gguf file inside the directory model.base, imported as the base model.",
    )
    trust_remote_code: bool = Field(
        False, description="Allow the model repository's own Python code to run. Off by default."
    )
    scratch: ScratchConfig = Field(
        default_factory=ScratchConfig, description='Size of the model when base = "scratch".'
    )

    @field_validator("gguf_file")
    @classmethod
    def _gguf_file_in_a_directory(cls, value: str | None, info: ValidationInfo) -> str | None:
        base = info.data.get("base", "")
        if value is not None and (base == "scratch" or base.lower().endswith(".gguf")):
            raise ValueError(
                f"without a directory: model.base = {base!r} is not one; set model.base to the directory "
                "holding the file, or remove gguf_file (a .gguf path can go in model.base itself)"
            )
        if value is not None and ("/" in value or "\\" in value):
            raise ValueError("must be a file name inside the directory model.base, not a path")
        return value


class KnowledgeConfig(Table):
    paths: list[str] = Field(
        min_length=1, description="Glob patterns of domain documents (md, txt, rst, html, pdf, json, jsonl)."
    )
    changes: ChangeRate = Field("never", description="How often the documents change.")
    text_field: str = Field("text", min_length=1, description="Field holding the text in json/jsonl records.")


class ExamplesConfig(Table):
    path: str = Field(min_length=1, description="File of annotated examples (JSONL, JSON array or CSV).")
    format: ExampleFormat = Field("auto", description="Record format; auto detects it from the fields.")


class DataConfig(Table):
    knowledge: KnowledgeConfig | None = Field(None, description="Unannotated domain text.")
    examples: ExamplesConfig | None = Field(None, description="Annotated input -> output pairs.")
    eval: ExamplesConfig | None = Field(
        None, description='Held-out pairs; for qa an optional "source" field names the gold document.'
    )
    strict: bool = Field(
        False,
        description="Every build as with `adapt build --strict` (CI): bad rows, unreadable knowledge "
        "files and eval rows that repeat training examples are errors, not warnings.",
    )


class NeedsConfig(Table):
    citations: bool = Field(False, description="Answers must point at their sources.")
    hallucination_tolerance: Literal["low", "medium", "high"] = Field(
        "medium", description="How much unsupported output is acceptable."
    )
    custom_style: bool = Field(
        False, description="A tone, format or behaviour that instructions alone do not achieve."
    )
    keep_general_skills: bool = Field(
        True, description="Forgetting off-target skills is unacceptable (favours PEFT)."
    )
    new_language: bool = Field(
        False, description="A broad new language or skill: the only case for continued pre-training."
    )


class ConstraintsConfig(Table):
    budget_usd: float = Field(100.0, ge=0, description="Training spend allowed, in US dollars.")
    max_latency_ms: int = Field(2000, ge=1, description="Per-request latency limit when serving.")
    max_prompt_tokens: int = Field(4096, ge=16, description="Per-request prompt size limit.")
    local_only: bool = Field(
        False,
        description="Data must not leave the machine: a remote cache off this machine and "
        "`adapt serve --host` beyond loopback are errors.",
    )


class TrainHardware(Table):
    device: Device = Field("cpu", description="Where training runs.")
    gpu: str | None = Field(None, description='Hardware catalog entry, e.g. "A100-80GB" or "T4".')
    count: int = Field(1, ge=1, le=1024, description="Number of devices on each node.")
    nodes: int = Field(
        1,
        ge=1,
        le=1024,
        description="Machines training together (torchrun c10d rendezvous); see docs/scale.md.",
    )
    parallel: Literal["auto", "ddp", "fsdp"] = Field(
        "auto",
        description='How training spreads over devices: "auto" picks one device, DDP, FSDP full sharding or '
        'FSDP with CPU offload from the memory estimate; "ddp" or "fsdp" forces one.',
    )
    memory_gb: float | None = Field(None, gt=0, description="Override the catalog's memory per device.")
    tflops: float | None = Field(None, gt=0, description="Override the catalog's bf16 dense TFLOP/s.")
    usd_per_hour: float | None = Field(
        None, ge=0, description="Override the catalog's price per device-hour."
    )


class ServeHardware(Table):
    device: Device = Field("cpu", description="Where the model is served.")
    gpu: str | None = Field(None, description="Hardware catalog entry when serving on a GPU.")
    memory_gb: float | None = Field(None, gt=0, description="Override the catalog's memory.")


class HardwareConfig(Table):
    train: TrainHardware = Field(default_factory=TrainHardware, description="Training hardware.")
    serve: ServeHardware = Field(default_factory=ServeHardware, description="Serving hardware.")


class EvalConfig(Table):
    classify: Literal["generate", "likelihood"] = Field(
        "generate",
        description='How eval answers a classify task: "generate" (greedy text, normalised to a label) '
        'or "likelihood" (the label the model scores most likely after the prompt).',
    )
    batch_size: int = Field(
        8,
        ge=1,
        le=256,
        description="Eval rows answered together by greedy generation (left-padded; the same answers as "
        "one by one, about 2x the throughput on a CPU). Each row's latency is then its share of its batch's "
        "time; 1: each row alone, latency as one request sees it.",
    )


class GoalConfig(Table):
    metric: Metric = Field(description="Eval metric the goal is stated in.")
    target: float = Field(description="Value to reach (answer_nll: at most; others: at least, 0..1).")

    @model_validator(mode="after")
    def _target_in_range(self) -> GoalConfig:
        if self.metric == "answer_nll":
            if self.target <= 0:
                raise ValueError("answer_nll is a loss: target must be greater than 0")
        elif not 0 < self.target <= 1:
            raise ValueError(f"{self.metric} lies in 0..1: target must be greater than 0 and at most 1")
        return self


class StrategyConfig(Table):
    include: list[Strategy] = Field(default_factory=list, description="Strategies forced on.")
    exclude: list[Strategy] = Field(default_factory=list, description="Strategies forbidden.")

    @model_validator(mode="after")
    def _disjoint(self) -> StrategyConfig:
        both = sorted(set(self.include) & set(self.exclude))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both included and excluded")
        return self


class IclConfig(Table):
    shots: int | None = Field(
        None, ge=0, le=256, description="Demonstrations per prompt; default from the token budget."
    )
    selection: Literal["similar", "diverse", "first"] = Field(
        "diverse", description="How demonstrations are chosen."
    )
    template: str | None = Field(None, description="Jinja2 prompt template overriding the shipped one.")


class RagConfig(Table):
    chunk_size: int | None = Field(
        None,
        ge=16,
        description="Chunk size in tokens; default fits the embedder's window and the prompt budget.",
    )
    chunk_overlap: int | None = Field(None, ge=0, description="Tokens shared by neighbouring chunks.")
    top_k: int = Field(
        4,
        ge=1,
        le=100,
        description="Chunks retrieved per question; fewer by default where the prompt budget is small.",
    )
    embed_model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        min_length=1,
        description="sentence-transformers model id or local path.",
    )
    store: Literal["simple", "faiss", "qdrant"] = Field(
        "simple",
        description="Vector store: simple (llama-index's JSON), faiss (extra adaptfile[faiss]) or qdrant "
        "(extra adaptfile[qdrant]; embedded in the index directory unless rag.url names a server).",
    )
    url: str | None = Field(
        None,
        min_length=1,
        description='Qdrant server URL for rag.store = "qdrant" (API key from $QDRANT_API_KEY); '
        "the collection is named after the project and the index key.",
    )
    retriever: Literal["vector", "hybrid", "keyword"] = Field(
        "hybrid", description="vector, hybrid (BM25 + vector, relative-score fusion), or keyword (BM25 only)."
    )
    window: int | None = Field(
        None,
        ge=0,
        le=16,
        description="Neighbouring chunks returned on each side of a retrieved chunk (small-to-big); "
        "default: up to 2, as many as the prompt budget holds.",
    )

    @model_validator(mode="after")
    def _url_needs_qdrant(self) -> RagConfig:
        if self.url and self.store != "qdrant":
            raise ValueError(f'url is only read by store = "qdrant" (store is "{self.store}")')
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagConfig:
        if self.chunk_size and self.chunk_overlap is not None and self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self


class TrainKnobs(Table):
    epochs: float = Field(3, gt=0, le=1000, description="Passes over the training data.")
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate.")
    batch_size: AutoInt = Field(
        "auto", description='Sequences per device step, or "auto" from the estimator.'
    )
    grad_accum: AutoInt = Field("auto", description='Gradient accumulation steps, or "auto".')
    gradient_checkpointing: AutoBool = Field("auto", description='Trade compute for memory, or "auto".')
    precision: Precision = Field("auto", description="bf16 on CUDA where supported, fp32 on CPU.")
    max_seq_len: int | None = Field(
        None, ge=16, description="Longest training sequence; default from the data."
    )
    packing: bool = Field(True, description="Pack several examples into one sequence.")
    save_every: int = Field(50, ge=1, description="Checkpoint every this many optimizer steps.")
    heldout: float = Field(
        0.1,
        ge=0,
        le=0.5,
        description="Share of the training data kept out of training to measure eval loss (at most 256 "
        "rows); 0 trains on all of it and measures none (the eval steps still score data.eval).",
    )


class LoraConfig(TrainKnobs):
    r: int = Field(16, ge=1, le=1024, description="Adapter rank.")
    alpha: float | None = Field(None, gt=0, description="Adapter scaling; default 2 * r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter input.")
    targets: list[str] | Literal["all-linear"] = Field(
        "all-linear", description='Module names to adapt, or "all-linear".'
    )
    merge: bool = Field(False, description="Also write a model with the adapter merged in.")


class QloraConfig(LoraConfig):
    bits: Literal[4] = Field(4, description="Quantisation of the frozen base (4-bit NF4).")


class PrefixConfig(TrainKnobs):
    learning_rate: float = Field(3e-2, gt=0, lt=1, description="Peak learning rate.")
    virtual_tokens: int = Field(20, ge=1, le=1024, description="Trainable prefix length.")


class FullConfig(TrainKnobs):
    learning_rate: float = Field(2e-5, gt=0, lt=1, description="Peak learning rate.")


class CptConfig(TrainKnobs):
    epochs: float = Field(1, gt=0, le=1000, description="Passes over the corpus.")
    learning_rate: float = Field(1e-5, gt=0, lt=1, description="Peak learning rate.")


class PretrainConfig(TrainKnobs):
    epochs: float = Field(1, gt=0, le=1000, description="Passes over the corpus.")
    learning_rate: float = Field(3e-4, gt=0, lt=1, description="Peak learning rate.")


REMOTE_SCHEMES: dict[str, str] = {  # URL scheme → the optional extra that installs its fsspec backend
    "s3": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "file": "",
}


def remote_scheme(url: str) -> str:
    """The URL scheme of a cache remote; "" for a plain path."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
    return match.group(1).lower() if match else ""


def _check_remote(url: str) -> str:
    scheme = remote_scheme(url)
    if scheme and scheme not in REMOTE_SCHEMES:
        known = ", ".join(f"{s}://" for s in REMOTE_SCHEMES)
        raise ValueError(f"unknown URL scheme '{scheme}://'; use {known} or a directory path")
    return url


def _has_credentials(url: str | None) -> bool:
    """Does the URL's authority carry a user or password (s3://KEY:SECRET@bucket)?"""
    if not url or "://" not in url:
        return False
    return "@" in url.split("://", 1)[1].split("/", 1)[0]


class CacheConfig(Table):
    remote: Annotated[str, AfterValidator(_check_remote)] | None = Field(
        None,
        min_length=1,
        description="Shared build cache: s3://bucket/prefix, gs://…, az://…, file:///dir or a directory "
        "path (relative to adapt.toml). Credentials come from the backend's standard chain.",
    )
    push: bool = Field(True, description="Upload each step's outputs after it runs; false for read-only CI.")
    endpoint_url: str | None = Field(
        None,
        min_length=1,
        description="S3-compatible endpoint (MinIO, R2, Ceph); default from AWS_ENDPOINT_URL, else AWS.",
    )

    @model_validator(mode="after")
    def _no_credentials(self) -> CacheConfig:
        # A table-level check, so the error message does not repeat the value (and the secret).
        for name in ("remote", "endpoint_url"):
            if _has_credentials(getattr(self, name)):
                raise ValueError(
                    f"{name}: credentials in the URL are refused (adapt.toml is committed and shared); "
                    "give them through the backend's standard chain, e.g. AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY or ~/.aws/credentials"
                )
        if self.endpoint_url is not None and remote_scheme(self.remote or "") != "s3":
            raise ValueError("endpoint_url applies to an s3:// remote only")
        return self


class AdaptConfig(Table):
    """adapt.toml v1."""

    model_config = ConfigDict(title="adapt.toml", extra="forbid", frozen=True, strict=True)

    project: ProjectConfig = Field(description="What the project is and what the model must do.")
    model: ModelConfig = Field(description="The base model to adapt.")
    data: DataConfig = Field(default_factory=DataConfig, description="Domain text, examples and eval set.")
    needs: NeedsConfig = Field(default_factory=NeedsConfig, description="What the answers must satisfy.")
    constraints: ConstraintsConfig = Field(
        default_factory=ConstraintsConfig, description="Budget and limits."
    )
    hardware: HardwareConfig = Field(
        default_factory=HardwareConfig, description="Training and serving hardware."
    )
    goal: GoalConfig | None = Field(
        None, description="Quality goal; build stops at the first rung that meets it."
    )
    eval: EvalConfig = Field(default_factory=EvalConfig, description="How the eval set is answered.")
    strategy: StrategyConfig = Field(default_factory=StrategyConfig, description="Overrides of the planner.")
    icl: IclConfig = Field(default_factory=IclConfig, description="In-context learning.")
    rag: RagConfig = Field(default_factory=RagConfig, description="Retrieval-augmented generation.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA fine-tuning.")
    qlora: QloraConfig = Field(
        default_factory=QloraConfig, description="QLoRA fine-tuning (4-bit base, CUDA)."
    )
    prefix: PrefixConfig = Field(default_factory=PrefixConfig, description="Prefix tuning.")
    full: FullConfig = Field(default_factory=FullConfig, description="Full fine-tuning.")
    cpt: CptConfig = Field(default_factory=CptConfig, description="Continued pre-training.")
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig, description="Pre-training from scratch.")
    cache: CacheConfig = Field(
        default_factory=CacheConfig, description="A build cache shared between machines."
    )
