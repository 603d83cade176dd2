"""make_plan: the decision framework as a pure function of config, data profile, hardware and model."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from adaptfile.config.model import STRATEGIES, AdaptConfig
from adaptfile.plan.dag import TUNED_RAG, build_steps, eval_steps, plan_variants
from adaptfile.plan.embedder import decide_embedder
from adaptfile.plan.finetune import decide_finetuning
from adaptfile.plan.hardware import Hardware, HardwareProfile
from adaptfile.plan.model import Plan, StepSpec, StrategyDecision
from adaptfile.plan.model_info import EmbedderRef, ModelInfo, format_count
from adaptfile.plan.pretraining import decide_pretraining
from adaptfile.plan.prompting import FAST_CHANGES, decide_prompting, text_tokens
from adaptfile.profile.knowledge import skipped_summary
from adaptfile.profile.model import DataProfile, KnowledgeProfile
from adaptfile.profile.text import TEXT_TYPES

SMALL_EVAL = 20
SHOWN_SOURCES = 5  # unknown example sources named in the warning
LADDER_TRAINING = ("lora", "qlora", "prefix", "full", "cpt")


def make_plan(
    config: AdaptConfig,
    profile: DataProfile,
    hardware: Hardware,
    model: ModelInfo,
    embedder: EmbedderRef | None = None,
) -> Plan:
    """Decide every strategy (the rules in docs/planner.md), resolve settings, and lay out the steps."""
    prompting = decide_prompting(config, profile, hardware, model)
    # a fine-tuned variant trains on its serving prompt: the instruction and, with RAG, the passages, which
    # fill up to the whole prompt budget (counted here in estimated tokens, in the model's own at build time)
    instruction = text_tokens(config.project.instruction)
    retrieved = prompting.rag.estimate.get("retrieved_tokens", 0) if prompting.rag.decision == "chosen" else 0
    budget = prompting.icl.estimate.get("prompt_limit", 0) if retrieved else 0
    overhead = (instruction + retrieved, max(instruction + retrieved, budget))
    tuning = decide_finetuning(config, profile, hardware.train, model, prompting.pressure, overhead)
    pretraining = decide_pretraining(config, profile, hardware.train, model)
    rag_chosen = prompting.rag.decision == "chosen"
    retriever, tune = decide_embedder(config, profile, rag_chosen, hardware.train)
    decisions = {
        "icl": prompting.icl,
        "rag": prompting.rag,
        "embedder": retriever,
        **tuning.decisions,
        **pretraining.decisions,
    }
    settings: dict[str, Any] = dict(prompting.settings)
    for name, train in {**tuning.plans, **pretraining.plans}.items():
        settings[name] = train.settings
    if "pretrain" in pretraining.plans:
        settings["pretrain"] = {**settings["pretrain"], "architecture": _architecture(model)}
    if tune:
        settings["rag"] = {**settings["rag"], "tune": tune}
    ladder: tuple[str, ...] = ()
    if config.goal is not None:
        ladder, conditional = _ladder(config, decisions)
        decisions = {n: replace(d, conditional=n in conditional) for n, d in decisions.items()}
    chosen = [n for n in STRATEGIES if decisions[n].decision == "chosen"]
    warnings = [
        *hardware.notes,
        *model.notes,
        *prompting.warnings,
        *tuning.warnings,
        *pretraining.warnings,
        *_data_warnings(config, profile),
    ]
    in_prompt = prompting.knowledge_in_prompt and "icl" in chosen
    steps = build_steps(config, model, chosen, settings, in_prompt, embedder)
    variants = plan_variants(chosen, steps, ladder)
    return Plan(
        project=config.project.name,
        strategies=tuple(decisions[n] for n in STRATEGIES),
        warnings=tuple(dict.fromkeys(warnings)),
        steps=(*steps, *eval_steps(config, model, variants, settings, decisions, _loads(steps))),
        ladder=ladder,
        settings=settings,
        model=_model_facts(model),
        hardware={"train": _hardware_facts(hardware.train), "serve": _hardware_facts(hardware.serve)},
        profile=asdict(profile),
        task=config.project.task,
        variants=variants,
    )


def _ladder(config: AdaptConfig, decisions: dict[str, StrategyDecision]) -> tuple[tuple[str, ...], set[str]]:
    """Rungs cheapest first: icl → icl+rag → icl+rag(tuned) → +peft → +full → +cpt; all but the first are
    conditional. RAG joins the first rung when a hard need asks for it (citations, fast-changing facts).
    Tuning the embedder (minutes) comes before any generator fine-tuning (hours).
    """
    chosen = {n for n, d in decisions.items() if d.decision == "chosen"}
    knowledge = config.data.knowledge
    hard_rag = "rag" in chosen and (
        config.needs.citations or (knowledge is not None and knowledge.changes in FAST_CHANGES)
    )
    first = [n for n in ("icl", "rag") if n in chosen and (n == "icl" or hard_rag)]
    rungs = ["+".join(first) or "base"]
    prompt = list(first)
    if "rag" in chosen and not hard_rag:
        prompt.append("rag")
        rungs.append("+".join(prompt))
    if "embedder" in chosen:
        rungs.append("+".join(prompt) + TUNED_RAG)
    for name in LADDER_TRAINING:
        if name in chosen:
            rungs.append("+".join([*prompt, name]) if prompt else name)
    conditional = (chosen & {"rag", "embedder", *LADDER_TRAINING}) - set(first)
    return tuple(rungs), conditional


BAD_ROWS_SHOWN = 3  # bad rows named in the plan's warning; `adapt plan --json` lists up to 200


def _loads(steps: tuple[StepSpec, ...]) -> tuple[str, ...]:
    """The steps that load annotated rows (examples.load, eval.load): the report checks them for leakage."""
    return tuple(s.id for s in steps if s.kind == "examples.load")


def _data_warnings(config: AdaptConfig, profile: DataProfile) -> list[str]:
    warnings = []
    if config.goal is not None and config.data.eval is None:
        warnings.append(
            f"[goal] {config.goal.metric} {config.goal.target:g} is set but data.eval is missing: the goal "
            'cannot be measured, so every rung is built; add [data.eval] path = "data/eval.jsonl"'
        )
    if profile.eval is not None and profile.eval.rows < SMALL_EVAL:
        warnings.append(
            f"the eval set has {profile.eval.rows} rows (<{SMALL_EVAL}); its scores will be noisy"
        )
    for pairs in (profile.examples, profile.eval):
        if pairs is None:
            continue
        if pairs.duplicates:
            warnings.append(f"{pairs.path}: {pairs.duplicates} duplicate rows")
        bad = len(pairs.bad_rows) + getattr(pairs, "omitted_issues", 0)
        if bad:
            first = "; ".join(f"{i.path}:{i.line}: {i.message}" for i in pairs.bad_rows[:BAD_ROWS_SHOWN])
            more = f"; and {bad - BAD_ROWS_SHOWN} more" if bad > BAD_ROWS_SHOWN else ""
            warnings.append(
                f"{pairs.path}: {bad} bad rows skipped ({first}{more}); fix them, "
                "or `adapt build --strict` fails on them"
            )
    overlap = getattr(profile, "eval_overlap", 0)
    if overlap:
        warnings.append(
            f"{overlap} eval inputs also appear in the training examples: scores will be inflated; "
            "remove them from one file"
        )
    if profile.knowledge is not None and profile.knowledge.skipped:
        skipped = profile.knowledge.skipped
        warnings.append(
            f"[data.knowledge]: {len(skipped)} file(s) skipped: {skipped_summary(skipped)}; "
            f"read are {', '.join(sorted(TEXT_TYPES))} and text files without an extension"
        )
    for pairs, unknown in (
        (profile.examples, profile.unknown_sources),
        (profile.eval, profile.unknown_eval_sources),
    ):
        if pairs is not None and unknown:
            warnings.append(_unknown_sources_warning(pairs.path, unknown, profile.knowledge))
    return warnings


def _unknown_sources_warning(path: str, unknown: dict[str, int], knowledge: KnowledgeProfile | None) -> str:
    """Rows whose `source` is no document of the corpus: counted, the first few named, skipped files said."""
    from adaptfile.knowledge.metrics import same_source

    skipped = knowledge.skipped if knowledge else {}

    def named(source: str, rows: int) -> str:
        hit = next((rel for rel in skipped if same_source(rel, source)), None)
        return f"{source!r} ({rows}{f'; skipped: {skipped[hit]}' if hit else ''})"

    shown = ", ".join(named(s, n) for s, n in list(unknown.items())[:SHOWN_SOURCES])
    more = f" and {len(unknown) - SHOWN_SOURCES} more" if len(unknown) > SHOWN_SOURCES else ""
    return (
        f"{path}: {sum(unknown.values())} rows name a source that is no [data.knowledge] document: {shown}{more}; "
        "retrieval cannot find their gold passage"
    )


def _architecture(model: ModelInfo) -> dict[str, int]:
    keys = ("layers", "hidden", "heads", "kv_heads", "intermediate", "vocab", "context")
    return {key: getattr(model, key) for key in keys}


def _model_facts(model: ModelInfo) -> dict[str, Any]:
    facts = {k: v for k, v in asdict(model).items() if k != "notes"}
    facts["params_human"] = format_count(model.params)
    return facts


def _hardware_facts(hw: HardwareProfile) -> dict[str, Any]:
    return {**asdict(hw), "describe": hw.describe()}
