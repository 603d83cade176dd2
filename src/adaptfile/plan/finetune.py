"""Rules 3–4: whether to fine-tune, and which of lora, qlora, prefix and full."""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptfile.config.model import AdaptConfig
from adaptfile.errors import PlanError
from adaptfile.plan import estimate as est
from adaptfile.plan.fit import PARALLEL_NAMES, TrainData, TrainPlan, fit_training
from adaptfile.plan.hardware import HardwareProfile
from adaptfile.plan.model import StrategyDecision
from adaptfile.plan.model_info import ModelInfo
from adaptfile.profile.model import DataProfile

MIN_EXAMPLES = 10  # refuse fine-tuning below this
FEW_EXAMPLES = 50  # warn below this
PLENTY_EXAMPLES = 1000  # "thousands": full fine-tuning considered
DATA_HUNGRY = ("summarize", "generate", "chat")
HUNGRY_FEW = 200  # generation and summarization need more data
PEFT = ("lora", "qlora", "prefix", "full")
NAMES = {"lora": "LoRA", "qlora": "QLoRA", "prefix": "prefix tuning", "full": "full fine-tuning"}


@dataclass
class TrainOutcome:
    """Verdicts on training strategies, their resolved settings and estimates, and warnings."""

    decisions: dict[str, StrategyDecision] = field(default_factory=dict)
    plans: dict[str, TrainPlan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def finetune_triggers(config: AdaptConfig, pressure: str | None) -> list[str]:
    """Why the gap is behaviour rather than knowledge (rule 3); a goal alone makes PEFT a conditional rung."""
    triggers = []
    if config.needs.custom_style:
        triggers.append("a custom style (needs.custom_style)")
    if config.project.task in ("classify", "extract"):
        triggers.append(f"task {config.project.task!r} needs a consistent output format")
    if pressure:
        triggers.append(pressure)
    if config.goal is not None:
        triggers.append(f"a [goal] ({config.goal.metric} {config.goal.target:g}) ICL/RAG may not reach")
    return triggers


def decide_finetuning(
    config: AdaptConfig,
    profile: DataProfile,
    hw: HardwareProfile,
    model: ModelInfo,
    pressure: str | None,
    prompt_tokens: tuple[int, int] = (0, 0),
) -> TrainOutcome:
    """lora if it fits memory and budget, else qlora on CUDA; prefix only when asked; full with margin.

    `prompt_tokens`: (mean, most) tokens the serving prompt adds to an example (instruction, retrieved
    passages; a fine-tuned variant has no demonstrations): examples are trained as they are served."""
    out = TrainOutcome()
    include, exclude = set(config.strategy.include), set(config.strategy.exclude)
    triggers = finetune_triggers(config, pressure)
    examples = profile.examples
    rows = examples.rows if examples else 0
    for name in PEFT:
        if name in include and rows == 0:
            raise PlanError(
                f"strategy.include has {name!r}, but there are no annotated examples to train on",
                hint='add [data.examples] path = "data/train.jsonl", or remove it from strategy.include',
            )
    if examples is None or rows == 0:
        for name in PEFT:
            if name in exclude:
                out.decisions[name] = StrategyDecision(name, "rejected", "excluded by strategy.exclude")
            elif name == "prefix" or not triggers:
                out.decisions[name] = StrategyDecision(name, "not_needed", _no_trigger(config, name))
            else:
                reason = f"fine-tuning indicated ({'; '.join(triggers)}) but there are no annotated examples"
                out.decisions[name] = StrategyDecision(name, "rejected", reason + " (data.examples)")
        return out
    data = TrainData(
        tokens=examples.tokens_total + rows * prompt_tokens[0],
        longest=examples.tokens_max + prompt_tokens[1],
        rows=rows,
    )
    budget = config.constraints.budget_usd
    plans = {
        "lora": fit_training("lora", config.lora, model, hw, data, _adapters(model, config, "lora")),
        "qlora": fit_training("qlora", config.qlora, model, hw, data, _adapters(model, config, "qlora")),
        "prefix": fit_training(
            "prefix", config.prefix, model, hw, data, est.prefix_params(model, config.prefix.virtual_tokens)
        ),
        "full": fit_training("full", config.full, model, hw, data, model.params),
    }
    why = f"fine-tuning indicated: {'; '.join(triggers)}" if triggers else ""
    too_few = rows < MIN_EXAMPLES
    verdicts: dict[str, tuple[str, str]] = {}
    for name in PEFT:
        plan = plans[name]
        wanted = name in include or (
            name == "lora" and bool(triggers) and not too_few and name not in exclude
        )
        if plan.unforced is not None and wanted:
            raise PlanError(_forced_parallel(name, plan, plan.unforced), hint=_parallel_fix(plan.unforced))
        problem = _impossible(name, plan, hw)
        if name in include and problem:
            raise PlanError(f"strategy.include has {name!r}, but {problem}", hint=_fix(name))
        if name in exclude:
            verdicts[name] = ("rejected", "excluded by strategy.exclude")
        elif not triggers:
            verdicts[name] = ("not_needed", _no_trigger(config, name))
        elif too_few:
            verdicts[name] = (
                "rejected",
                f"needs ≥{MIN_EXAMPLES} annotated examples; data.examples has {rows}",
            )
        else:
            verdicts[name] = _verdict(name, plan, verdicts, config, rows, hw, budget)
        decision, reason = verdicts[name]
        if name in include and decision != "chosen":
            reason = (
                "included by strategy.include"
                if name == "prefix" and decision == "not_needed"
                else f"included by strategy.include (planner alone: {decision.replace('_', ' ')}: {reason})"
            )
            decision = "chosen"
            if too_few:
                out.warnings.append(
                    f"{NAMES[name]} with only {rows} examples (<{MIN_EXAMPLES}) will barely learn"
                )
            if plan.cost_usd > budget:
                out.warnings.append(
                    f"{NAMES[name]} costs ≈{est.money(plan.cost_usd)} est., over constraints.budget_usd "
                    f"({est.money(budget)})"
                )
        elif decision == "chosen" and why:
            reason = f"{why}. {reason}"
        out.decisions[name] = StrategyDecision(name, decision, reason, plan.estimate(model))  # type: ignore[arg-type]
        if decision == "chosen":
            out.plans[name] = plan
            out.warnings.extend(plan.notes)
    chosen = [n for n in PEFT if out.decisions[n].decision == "chosen"]
    if chosen and rows < FEW_EXAMPLES:
        out.warnings.append(
            f"only {rows} training examples: fewer than {FEW_EXAMPLES} rarely shows clear gains; "
            "50–100 good examples do, ~1,000 curated ones go far"
        )
    elif chosen and config.project.task in DATA_HUNGRY and rows < HUNGRY_FEW:
        out.warnings.append(
            f"task {config.project.task!r} needs more data than classification or extraction; "
            f"{rows} examples is thin (aim for {HUNGRY_FEW}+)"
        )
    if triggers and not chosen and not too_few and not set(PEFT) <= exclude:
        out.warnings.append(f"{why}, but no fine-tuning method fits: {verdicts['lora'][1]}")
    return out


def _adapters(model: ModelInfo, config: AdaptConfig, name: str) -> int:
    knobs = config.qlora if name == "qlora" else config.lora
    return est.adapter_params(model, knobs.r, knobs.targets)


def _forced_parallel(name: str, plan: TrainPlan, unforced: TrainPlan) -> str:
    margin = est.FULL_MARGIN if name == "full" else est.FIT_MARGIN
    return (
        f"hardware.train.parallel = {plan.hardware.parallel!r}: {NAMES[name]} needs ≈{plan.memory.total_gb:.3g} GB "
        f"per device with {PARALLEL_NAMES[plan.parallel]}, over the {margin * plan.hardware.device_memory_gb:.3g} "
        f"GB usable on {plan.hardware.short()}; {PARALLEL_NAMES[unforced.parallel]} fits "
        f"(≈{unforced.memory.total_gb:.3g} GB per device)"
    )


def _parallel_fix(unforced: TrainPlan) -> str:
    choice = "fsdp" if unforced.parallel.startswith("fsdp") else "ddp"
    return f'set hardware.train.parallel = "auto" (or "{choice}"), or lower batch_size / max_seq_len'


def _impossible(name: str, plan: TrainPlan, hw: HardwareProfile) -> str | None:
    """Why a strategy cannot work at all on this hardware, or None."""
    if name == "qlora" and not (hw.device == "cuda" and hw.four_bit):
        return f"QLoRA needs CUDA with 4-bit kernels (bitsandbytes); training runs on {hw.describe()}"
    if name == "qlora" and hw.parallel == "fsdp":
        return (
            "QLoRA does not run under FSDP here (its 4-bit weights cannot be sharded without bitsandbytes' "
            'quant_storage path); hardware.train.parallel = "fsdp" forces it'
        )
    if not plan.fits(1.0):
        return (
            f"it does not fit: {plan.memory.total_gb:.3g} GB est. > {plan.hardware.memory_gb:g} GB on "
            f"{hw.describe()} even at batch {plan.settings['batch_size']}"
        )
    return None


def _fix(name: str) -> str:
    fixes = {
        "full": "add GPUs (hardware.train.count shards full fine-tuning with FSDP) or a larger gpu, or remove "
        "'full'",
        "qlora": 'train on CUDA (hardware.train.device = "cuda", gpu = …) without parallel = "fsdp", use '
        "lora, or remove 'qlora'",
    }
    default = f"use a larger hardware.train.gpu, qlora, or a smaller model.base, or remove {name!r}"
    return fixes.get(name, default) + " from strategy.include"


def _no_trigger(config: AdaptConfig, name: str) -> str:
    if name == "prefix":
        return "prefix tuning only when asked for (strategy.include)"
    return (
        f"ICL/RAG cover the need: no custom style, task {config.project.task!r} needs no fixed format, "
        "prompts fit the budget and there is no [goal] to climb towards"
    )


def _verdict(
    name: str,
    plan: TrainPlan,
    verdicts: dict[str, tuple[str, str]],
    config: AdaptConfig,
    rows: int,
    hw: HardwareProfile,
    budget: float,
) -> tuple[str, str]:
    label = NAMES[name]
    over = plan.cost_usd > budget
    money = f"≈{est.money(plan.cost_usd)} est. > constraints.budget_usd {est.money(budget)}"
    if name == "prefix":
        return "not_needed", "prefix tuning only when asked for (strategy.include)"
    if name == "lora":
        if not plan.fits():
            return "rejected", f"LoRA does not fit: {_limit(plan)}"
        if over:
            return "rejected", f"LoRA over budget: {money}"
        return "chosen", f"LoRA fits: {plan.summary()}"
    if name == "qlora":
        if verdicts["lora"][0] == "chosen":
            return "not_needed", "LoRA fits; QLoRA only when it does not"
        problem = _impossible(name, plan, hw)
        if problem and not problem.startswith("it does not fit"):
            return "rejected", problem
        if not plan.fits():
            return "rejected", f"QLoRA does not fit either: {_limit(plan)}"
        if over:
            return "rejected", f"QLoRA over budget: {money}"
        lead = "LoRA is excluded" if verdicts["lora"][1].startswith("excluded") else verdicts["lora"][1]
        return "chosen", f"{lead}; QLoRA fits: {plan.summary()}"
    failed = []
    if rows < PLENTY_EXAMPLES:
        failed.append(f"{rows} examples (needs thousands, ≥{PLENTY_EXAMPLES:,})")
    if config.needs.keep_general_skills:
        failed.append(
            "needs.keep_general_skills is true (full fine-tuning risks forgetting; PEFT keeps them)"
        )
    if config.goal is None:
        failed.append("no [goal] says the target-task score matters most")
    if not plan.fits():
        failed.append(f"no memory margin: {_limit(plan)}")
    if plan.cost_usd > budget / 2:
        failed.append(f"no budget margin: ≈{est.money(plan.cost_usd)} est. of {est.money(budget)}")
    if failed:
        return "rejected", f"{label} not warranted: {'; '.join(failed)}"
    return (
        "chosen",
        f"{label} as the last fine-tuning rung ({rows:,} examples, forgetting acceptable): {plan.summary()}",
    )


def _limit(plan: TrainPlan) -> str:
    margin = est.FULL_MARGIN if plan.method == "full" else est.FIT_MARGIN
    return (
        f"{plan.memory.total_gb:.3g} GB est. > {margin * plan.hardware.memory_gb:.3g} GB usable "
        f"({margin:.0%} of {plan.hardware.memory_gb:g} GB on {plan.hardware.short()})"
    )
