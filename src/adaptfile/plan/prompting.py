"""Rules 1–2: in-context learning as the baseline and RAG for knowledge, with the prompt budget."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from adaptfile.config.model import AdaptConfig, RagConfig
from adaptfile.errors import PlanError
from adaptfile.plan import estimate as est
from adaptfile.plan.hardware import Hardware
from adaptfile.plan.model import StrategyDecision
from adaptfile.plan.model_info import ModelInfo
from adaptfile.profile.model import DataProfile

EMBEDDER_WINDOWS = {  # max_seq_length of common sentence-transformers models, in their tokens
    "all-minilm-l6-v2": 256,
    "all-minilm-l12-v2": 256,
    "paraphrase-minilm-l6-v2": 128,
    "all-mpnet-base-v2": 384,
    "multi-qa-minilm-l6-cos-v1": 512,
    "bge-small-en-v1.5": 512,
    "bge-base-en-v1.5": 512,
    "bge-large-en-v1.5": 512,
    "e5-small-v2": 512,
    "e5-base-v2": 512,
    "gte-small": 512,
    "gte-base": 512,
}
EMBEDDER_DIMS = {"all-minilm-l6-v2": 384, "all-minilm-l12-v2": 384, "paraphrase-minilm-l6-v2": 384}
DEFAULT_WINDOW = 512
DEFAULT_DIMS = 768
ANSWER_TOKENS = {"classify": 8, "extract": 64, "qa": 128, "summarize": 256, "chat": 256, "generate": 256}
DEFAULT_SHOTS = 4  # demonstrations wanted when icl.shots is not set


MAX_WINDOW = 2  # neighbouring chunks returned on each side of a hit, at most, by default
DEFAULT_TOP_K = RagConfig.model_fields["top_k"].default  # chunks retrieved when rag.top_k is not set
MIN_AUTO_CHUNK = 64  # default chunks shrink to fit a small prompt budget, but not below this
MIN_CHUNK = RagConfig.model_fields["chunk_size"].metadata[0].ge  # rag.chunk_size's lower bound


def passage_tokens(chunk: int, overlap: int, window: int) -> int:
    """Tokens of one retrieved passage: the hit chunk plus `window` neighbours on each side."""
    return chunk + 2 * window * (chunk - overlap)


def default_chunking(chunk_size: int | None, top_k: int | None, window: int, room: int) -> tuple[int, int]:
    """(chunk size, top_k): what is set, else defaults that fit both the embedder's window (7/8 of it) and
    `room`, the prompt tokens left for retrieved text. A small-context model gets smaller chunks first, down
    to MIN_AUTO_CHUNK tokens, then fewer of them; a large one keeps the embedder's chunk and the top 4."""
    wanted = top_k or DEFAULT_TOP_K
    if chunk_size is not None:
        return chunk_size, top_k or max(1, min(wanted, room // chunk_size))
    chunk = window * 7 // 8
    if wanted * chunk <= room:
        return chunk, wanted
    chunk = max(MIN_CHUNK, room // wanted, min(chunk, MIN_AUTO_CHUNK))
    return chunk, top_k or max(1, min(wanted, room // chunk))


def answer_budget(task: str, context: int | None, longest_answer: int = 0) -> int:
    """Tokens kept free for the answer, at most a quarter of the window: twice the longest answer of the
    examples and eval rows (a ≈4-characters-per-token estimate; labels such as
    `card_payment_wrong_exchange_rate` split into more tokens than prose), else the task's typical length."""
    wanted = 2 * longest_answer + 2 if longest_answer else ANSWER_TOKENS.get(task, 128)
    return wanted if context is None else min(wanted, context // 4)


MAX_AUTO_SHOTS = 8
DEFAULT_QUESTION_TOKENS = 64
FAST_CHANGES = ("monthly", "weekly", "daily", "hourly")


def text_tokens(text: str) -> int:
    """≈ 4 characters per token."""
    return math.ceil(len(text) / 4)


def embedder_window(embed_model: str) -> tuple[int, int, bool]:
    """(window tokens, dimensions, known) of a sentence-transformers model id or path."""
    key = embed_model.rstrip("/").rsplit("/", 1)[-1].lower()
    if key in EMBEDDER_WINDOWS:
        return EMBEDDER_WINDOWS[key], EMBEDDER_DIMS.get(key, DEFAULT_DIMS), True
    return DEFAULT_WINDOW, DEFAULT_DIMS, False


@dataclass
class PromptOutcome:
    """The ICL and RAG verdicts, their resolved settings, warnings, and any pressure to fine-tune."""

    icl: StrategyDecision
    rag: StrategyDecision
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    pressure: str | None = None  # why ICL/RAG prompts are too long or too slow: a reason to fine-tune
    knowledge_in_prompt: bool = False


def decide_prompting(
    config: AdaptConfig, profile: DataProfile, hardware: Hardware, model: ModelInfo
) -> PromptOutcome:
    """Decide rag first (it takes prompt space), then icl with the shots that fit what is left."""
    include, exclude = set(config.strategy.include), set(config.strategy.exclude)
    warnings: list[str] = []
    task = config.project.task
    pairs = [p for p in (profile.examples, profile.eval) if p is not None]
    answer = answer_budget(task, model.context, max((p.output_tokens_max for p in pairs), default=0))
    limit = min(config.constraints.max_prompt_tokens, model.context - answer)
    rows = profile.examples.rows if profile.examples else 0
    shot = profile.examples.tokens_mean if profile.examples else 0.0
    question = max(p.input_tokens_max for p in pairs) if pairs else DEFAULT_QUESTION_TOKENS
    instruction = text_tokens(config.project.instruction)
    base = instruction + question

    rag, rag_settings, retrieved, in_prompt = _decide_rag(
        config, profile, limit - base, math.ceil(shot) if rows else 0, include, exclude, warnings
    )
    fixed = base + retrieved + (profile.knowledge.tokens if in_prompt and profile.knowledge else 0)
    serve = hardware.serve

    def latency(tokens: int) -> float:
        return est.latency_ms(model, serve, tokens, answer)

    def prompt(n: int) -> int:
        return math.ceil(fixed + n * shot)

    lat_limit = config.constraints.max_latency_ms
    fit_tokens = max(0, math.floor((limit - fixed) / shot)) if shot else 0
    fit_latency = fit_tokens
    if latency(fixed) > lat_limit:
        warnings.append(
            f"even without demonstrations a request takes ≈{latency(fixed):,.0f} ms est. on "
            f"{serve.describe()}, over constraints.max_latency_ms ({lat_limit:,}); serve on a GPU "
            "(hardware.serve) or use a smaller model"
        )
    else:
        while fit_latency > 0 and latency(prompt(fit_latency)) > lat_limit:
            fit_latency -= 1
    fit = min(fit_tokens, fit_latency)
    wanted = config.icl.shots if config.icl.shots is not None else min(DEFAULT_SHOTS, rows)
    shots = config.icl.shots if config.icl.shots is not None else min(MAX_AUTO_SHOTS, rows, fit)
    pressure = None
    if rows and fit < wanted:
        over_tokens = prompt(wanted) > limit
        pressure = (
            f"{wanted} demonstrations need ≈{prompt(wanted):,} prompt tokens, over the {limit:,}-token budget"
            if over_tokens
            else f"{wanted} demonstrations take ≈{latency(prompt(wanted)):,.0f} ms est. per request, over "
            f"constraints.max_latency_ms ({lat_limit:,})"
        )
        if config.icl.shots is not None:
            warnings.append(f"icl.shots = {config.icl.shots}: {pressure}; lower icl.shots")
    tokens = prompt(shots)
    estimate = {
        "label": f"estimate, {est.ACCURACY}",
        "shots": shots,
        "prompt_tokens": tokens,
        "prompt_limit": limit,
        "prompt_parts": {"instruction": instruction, "shots": math.ceil(shots * shot), "retrieved": retrieved,
                         "question": question, "knowledge": fixed - base - retrieved},
        "latency_ms": est.sig(latency(tokens)),
        "serve_memory_gb": est.sig(est.inference_memory_gb(model, serve, tokens + answer)),
        "serve_memory_limit_gb": serve.memory_gb,
        "inference_flops_per_token": est.sig(2 * model.active_params),
    }  # fmt: skip
    if estimate["serve_memory_gb"] > serve.memory_gb:
        warnings.append(
            f"serving needs ≈{estimate['serve_memory_gb']:g} GB est., more than {serve.describe()} has; "
            "choose a larger hardware.serve or a smaller model"
        )
    icl = _decide_icl(config, profile, rows, shot, shots, fixed, limit, estimate, include, exclude)
    settings = {"icl": {"shots": shots, "selection": config.icl.selection, "template": config.icl.template,
                        "knowledge_in_prompt": in_prompt, "answer_tokens": answer}}  # fmt: skip
    if rag.decision == "chosen":
        settings["rag"] = rag_settings
    return PromptOutcome(icl, rag, settings, warnings, pressure, in_prompt)


def _decide_icl(
    config: AdaptConfig,
    profile: DataProfile,
    rows: int,
    shot: float,
    shots: int,
    fixed: int,
    limit: int,
    estimate: dict[str, Any],
    include: set[str],
    exclude: set[str],
) -> StrategyDecision:
    if "icl" in exclude:
        return StrategyDecision("icl", "rejected", "excluded by strategy.exclude", estimate)
    need = math.ceil(fixed + (shot if rows else 0))
    if need > limit:
        what = "the instruction plus one demonstration" if rows else "the instruction plus a question"
        reason = f"{what} need ≈{need:,} tokens, over the {limit:,}-token prompt budget"
        if rows:
            reason += (
                "; fine-tune instead: it moves the demonstrations into the weights (docs/strategies/lora.md)"
            )
        if "icl" in include:
            raise PlanError(
                f"strategy.include has 'icl', but {reason}",
                hint="raise constraints.max_prompt_tokens, shorten project.instruction, or remove 'icl' "
                "from strategy.include",
            )
        return StrategyDecision("icl", "rejected", reason, estimate)
    what = (
        f"{shots} shot{'s' if shots != 1 else ''} × ≈{shot:.0f} tokens"
        if rows
        else "zero-shot (no data.examples)"
    )
    reason = (
        f"ICL is the baseline: {what}; ≈{estimate['prompt_tokens']:,} of {limit:,} prompt tokens est. for the "
        "longest question, "
        f"≈{estimate['latency_ms']:,.0f} ms est. per request"
    )
    if config.goal is not None and profile.eval is not None:
        reason += f"; measured first against the goal ({config.goal.metric} {config.goal.target:g})"
    return StrategyDecision("icl", "chosen", reason, estimate)


def _decide_rag(
    config: AdaptConfig,
    profile: DataProfile,
    room: int,
    shot_room: int,
    include: set[str],
    exclude: set[str],
    warnings: list[str],
) -> tuple[StrategyDecision, dict[str, Any], int, bool]:
    """(decision, settings, tokens retrieved per prompt, whether the whole corpus goes in the prompt)."""
    knowledge = config.data.knowledge
    if knowledge is None or profile.knowledge is None:
        if "rag" in include:
            raise PlanError(
                "strategy.include has 'rag', but there is no [data.knowledge] corpus to retrieve from",
                hint='add [data.knowledge] paths = ["docs/**/*.md"], or remove "rag" from strategy.include',
            )
        return StrategyDecision("rag", "not_needed", "no [data.knowledge] corpus"), {}, 0, False
    r = config.rag
    window, dims, known = embedder_window(r.embed_model)
    chunk, top_k = default_chunking(r.chunk_size, r.top_k if "top_k" in r.model_fields_set else None,
                                    window, room - (shot_room if "icl" not in exclude else 0))  # fmt: skip
    overlap = r.chunk_overlap if r.chunk_overlap is not None else chunk // 8
    if not known and r.chunk_size is None:
        warnings.append(
            f"rag.embed_model {r.embed_model!r}: window unknown, assuming {window} tokens; set rag.chunk_size"
        )
    usable = window - 2  # the embedder spends two positions on its [CLS]/[SEP] markers
    if chunk > usable:
        warnings.append(
            f"rag.chunk_size = {chunk} exceeds the {usable} tokens {r.embed_model} embeds ({window}-token "
            f"window less 2 special tokens); text past it is not embedded — use chunk_size ≤ {usable}"
        )
    corpus = profile.knowledge.tokens
    chunks = math.ceil(corpus / max(chunk - overlap, 1))
    hits = min(top_k, chunks)
    neighbours = r.window
    if neighbours is None:  # the widest small-to-big passage (±2 chunks measured best) that still fits
        fitting = [w for w in range(MAX_WINDOW, 0, -1) if hits * passage_tokens(chunk, overlap, w) <= room]
        neighbours = fitting[0] if fitting else 0
    passage = min(passage_tokens(chunk, overlap, neighbours), corpus)
    retrieved = hits * passage
    estimate = {
        "label": f"estimate, {est.ACCURACY}",
        "corpus_tokens": corpus,
        "chunks": chunks,
        "index_mb": est.sig(chunks * dims * 4 / 1e6),
        "retrieved_tokens": retrieved,
    }
    settings = {"chunk_size": chunk, "chunk_overlap": overlap, "top_k": top_k, "embed_model": r.embed_model,
                "store": r.store, "url": r.url, "retriever": r.retriever, "embed_window": window,
                "window": neighbours}  # fmt: skip
    triggers = []
    if corpus > room:
        triggers.append(
            f"the corpus ({corpus:,} tokens) does not fit the prompt budget ({max(room, 0):,} left)"
        )
    if knowledge.changes in FAST_CHANGES:
        triggers.append(f"documents change {knowledge.changes}")
    if config.needs.citations:
        triggers.append("answers must cite sources (needs.citations)")
    if config.needs.hallucination_tolerance == "low":
        triggers.append("hallucination_tolerance is low")
    if "rag" in exclude:
        change = f" (they change {knowledge.changes})" if knowledge.changes in FAST_CHANGES else ""
        warnings.append(
            f"[data.knowledge] holds facts the model lacks{change} but RAG is excluded: fine-tuning is "
            "never the way to add new or fast-changing facts"
        )
        return (
            StrategyDecision("rag", "rejected", "excluded by strategy.exclude", estimate),
            {},
            0,
            corpus <= room,
        )
    detail = (
        f"{chunks:,} chunks of {chunk} tokens, top {top_k} widened by ±{neighbours} neighbouring chunks "
        f"= {retrieved:,} tokens per prompt"
    )
    if retrieved > room:
        warnings.append(
            f"retrieval adds {retrieved:,} tokens per prompt, more than the {max(room, 0):,} left in the "
            "budget; lower rag.top_k or rag.chunk_size"
        )
    if triggers:
        return StrategyDecision("rag", "chosen", f"RAG chosen: {'; '.join(triggers)}; {detail}", estimate), \
            settings, retrieved, False  # fmt: skip
    if "rag" in include:
        reason = f"included by strategy.include (the whole corpus would fit the prompt); {detail}"
        return StrategyDecision("rag", "chosen", reason, estimate), settings, retrieved, False
    reason = (
        f"the whole corpus ({corpus:,} tokens) fits the prompt budget ({room:,} left) and nothing asks for "
        f"retrieval (changes = {knowledge.changes}, no citations, hallucination tolerance "
        f"{config.needs.hallucination_tolerance}); it goes into the prompt"
    )
    return StrategyDecision("rag", "not_needed", reason, estimate), {}, 0, True
