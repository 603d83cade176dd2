"""Rules 5–6: continued pre-training for a broad new skill, and pre-training only from scratch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from adaptfile.config.model import AdaptConfig
from adaptfile.errors import PlanError
from adaptfile.plan import estimate as est
from adaptfile.plan.fit import TrainData, TrainPlan, fit_training
from adaptfile.plan.hardware import HardwareProfile
from adaptfile.plan.model import StrategyDecision
from adaptfile.plan.model_info import ModelInfo, format_count
from adaptfile.profile.model import DataProfile

CPT_MIN_TOKENS = 1e9  # continued pre-training needs ~1e9+ tokens of unannotated domain text
CPT_SEQ = 2048
LONG_WALL_HOURS = 24  # warn when a free (cpu) run would take longer than this


@dataclass
class PretrainOutcome:
    """Verdicts on cpt and pretrain with their estimates; plans for the chosen ones."""

    decisions: dict[str, StrategyDecision] = field(default_factory=dict)
    plans: dict[str, TrainPlan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def decide_pretraining(
    config: AdaptConfig, profile: DataProfile, hw: HardwareProfile, model: ModelInfo
) -> PretrainOutcome:
    """cpt needs new_language + ~1e9 tokens + budget; pretrain only for model.base = "scratch"."""
    out = PretrainOutcome()
    out.decisions["cpt"] = _cpt(config, profile, hw, model, out)
    out.decisions["pretrain"] = _pretrain(config, profile, hw, model, out)
    for plan in out.plans.values():
        if plan.wall_hours > LONG_WALL_HOURS:
            out.warnings.append(
                f"{plan.method} takes ≈{est.hours(plan.wall_hours)} h est. on {hw.describe()}; "
                "consider a GPU (hardware.train) or a smaller model"
            )
    return out


def _cpt(
    config: AdaptConfig, profile: DataProfile, hw: HardwareProfile, model: ModelInfo, out: PretrainOutcome
) -> StrategyDecision:
    include, exclude = config.strategy.include, config.strategy.exclude
    if "cpt" in exclude:
        return StrategyDecision("cpt", "rejected", "excluded by strategy.exclude")
    if config.model.base == "scratch":
        if "cpt" in include:
            raise PlanError(
                "strategy.include has 'cpt', but model.base = 'scratch' has no pre-trained model to continue",
                hint="remove 'cpt' from strategy.include; pretrain already trains on the corpus",
            )
        return StrategyDecision("cpt", "not_needed", "model.base = 'scratch': pre-training covers the corpus")
    if profile.knowledge is None:
        if "cpt" in include:
            raise PlanError(
                "strategy.include has 'cpt', but there is no [data.knowledge] corpus to train on",
                hint='add [data.knowledge] paths = [...], or remove "cpt" from strategy.include',
            )
        if not config.needs.new_language:
            return StrategyDecision(
                "cpt", "not_needed", "no new language or broad skill needed, and no corpus"
            )
        return StrategyDecision("cpt", "rejected", "no [data.knowledge] corpus to continue pre-training on")
    corpus = profile.knowledge.tokens
    data = TrainData(tokens=corpus, longest=CPT_SEQ, rows=math.ceil(corpus / CPT_SEQ))
    plan = fit_training("cpt", config.cpt, model, hw, data, model.params)
    numbers = f"corpus {format_count(corpus)} tokens; {plan.summary()}"
    budget = config.constraints.budget_usd
    failed = []
    if not config.needs.new_language:
        failed.append("needs.new_language is false (only a broad new language or skill warrants it)")
    if corpus < CPT_MIN_TOKENS:
        failed.append(f"the corpus is far below the ~{format_count(CPT_MIN_TOKENS)} tokens it needs")
    if not plan.fits():
        failed.append("it does not fit the training memory")
    if plan.cost_usd > budget:
        failed.append(f"it costs more than constraints.budget_usd ({est.money(budget)})")
    estimate = plan.estimate(model)
    if "cpt" in include:
        if not plan.fits(1.0):
            raise PlanError(
                f"strategy.include has 'cpt', but it does not fit: {numbers}",
                hint="add GPUs (hardware.train.count) or a larger hardware.train.gpu, or remove 'cpt' "
                "from strategy.include",
            )
        out.plans["cpt"] = plan
        note = f" (planner alone: rejected: {'; '.join(failed)})" if failed else ""
        return StrategyDecision("cpt", "chosen", f"included by strategy.include{note}; {numbers}", estimate)
    if failed:
        return StrategyDecision("cpt", "rejected", f"{'; '.join(failed)} — {numbers}", estimate)
    out.plans["cpt"] = plan
    reason = f"a new language/skill with a large corpus and the budget for it: {numbers}"
    return StrategyDecision("cpt", "chosen", reason + "; mix in general data against forgetting", estimate)


def _pretrain(
    config: AdaptConfig, profile: DataProfile, hw: HardwareProfile, model: ModelInfo, out: PretrainOutcome
) -> StrategyDecision:
    include, exclude = config.strategy.include, config.strategy.exclude
    scratch = config.model.base == "scratch"
    if "pretrain" in exclude:
        if scratch:
            raise PlanError(
                "model.base = 'scratch' asks for pre-training, but strategy.exclude has 'pretrain'",
                hint="remove 'pretrain' from strategy.exclude, or point model.base at a pre-trained model",
            )
        return StrategyDecision("pretrain", "rejected", "excluded by strategy.exclude")
    if not scratch:
        if "pretrain" in include:
            raise PlanError(
                "strategy.include has 'pretrain', but model.base is a pre-trained model",
                hint='set model.base = "scratch" with [model.scratch] sizes to train a new model, '
                "or remove 'pretrain' from strategy.include",
            )
        tokens = est.compute_optimal_tokens(model.params)
        data = TrainData(tokens=tokens, longest=model.context, rows=math.ceil(tokens / model.context))
        plan = fit_training("pretrain", config.pretrain, model, hw, data, model.params)
        corpus = (
            f"; the corpus has {format_count(profile.knowledge.tokens)} tokens" if profile.knowledge else ""
        )
        reason = (
            f"pre-training a {format_count(model.params)} model compute-optimally (≈{format_count(tokens)} tokens, "
            f"20 per parameter) ≈ {plan.flops:.2g} FLOPs ≈ {est.hours(plan.gpu_hours)} {hw.hours_unit} on "
            f"{hw.short()}, ≈{est.money(plan.cost_usd)} est. (budget {est.money(config.constraints.budget_usd)}); "
            "a pre-trained base model already knows far more than this could teach it — adapt one instead"
            f"{corpus}"
        )
        return StrategyDecision("pretrain", "rejected", reason, plan.estimate(model))
    if profile.knowledge is not None:
        corpus, source = profile.knowledge.tokens, "[data.knowledge]"
    elif profile.examples is not None:
        corpus, source = profile.examples.tokens_total, "data.examples"
    else:
        raise PlanError(
            "model.base = 'scratch' needs text to pre-train on, but there is no [data.knowledge] or data.examples",
            hint='add [data.knowledge] paths = ["docs/**/*.md"]',
        )
    data = TrainData(tokens=corpus, longest=model.context, rows=math.ceil(corpus / model.context))
    plan = fit_training("pretrain", config.pretrain, model, hw, data, model.params)
    if not plan.fits(1.0) or plan.cost_usd > config.constraints.budget_usd:
        raise PlanError(
            f"model.base = 'scratch': pre-training does not fit: {plan.summary()}, budget "
            f"{est.money(config.constraints.budget_usd)}",
            hint="shrink [model.scratch] (layers, hidden, context), or raise the hardware / constraints.budget_usd",
        )
    ratio = corpus * config.pretrain.epochs / model.params
    reason = (
        f"model.base = 'scratch': a {format_count(model.params)}-parameter model on {format_count(corpus)} "
        f"tokens of {source} ({ratio:.2g} tokens/parameter; compute-optimal ≈ 20) — {plan.summary()}"
    )
    out.plans["pretrain"] = plan
    return StrategyDecision("pretrain", "chosen", reason, plan.estimate(model))
