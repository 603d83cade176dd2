"""A Plan is data: strategy decisions with reasons and estimates, warnings, and the step DAG."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["chosen", "rejected", "not_needed"]


@dataclass(frozen=True)
class StepSpec:
    """One node of the build DAG: what kind of step, what it reads, what it waits for."""

    id: str  # e.g. "knowledge.chunk"
    kind: str  # registry name of the step kind, e.g. "knowledge.chunk"
    deps: tuple[str, ...] = ()  # ids of upstream steps
    params: dict[str, Any] = field(default_factory=dict)  # config fields it reads, by TOML path
    inputs: tuple[str, ...] = ()  # glob patterns / paths relative to the project root
    # Values the step reads only to show them, e.g. the planner's estimates for this machine: not in its key
    # or adapt.lock (they would differ by machine), and an entry restored from the cache keeps its own.
    shown: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategyDecision:
    """The planner's verdict on one strategy, with the reason and the numbers behind it."""

    name: str
    decision: Decision
    reason: str
    estimate: dict[str, Any] = field(default_factory=dict)
    conditional: bool = False  # a goal ladder rung built only if cheaper rungs miss the goal


@dataclass(frozen=True)
class Variant:
    """One servable combination of artifacts (e.g. "icl+rag+lora") and the steps whose outputs make it up."""

    name: str  # "base" (zero-shot), "icl", "icl+rag", "icl+rag+lora", ...
    strategies: tuple[str, ...]  # the strategies it applies, in ladder order
    steps: tuple[str, ...]  # step ids whose outputs it uses (model, adapter, index, prompt, shots)
    rung: bool = False  # on the goal ladder
    conditional: bool = False  # built only if cheaper rungs miss the goal

    @property
    def eval_step(self) -> str:
        return f"eval.{self.name}"


@dataclass(frozen=True)
class Plan:
    """Everything `adapt plan` shows and `adapt build` executes."""

    project: str
    strategies: tuple[StrategyDecision, ...]
    warnings: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    ladder: tuple[str, ...] = ()  # variant names in build order when a goal is set
    settings: dict[str, Any] = field(default_factory=dict)  # resolved knobs (shots, chunk size, batch...)
    model: dict[str, Any] = field(default_factory=dict)  # parameter count and architecture used
    hardware: dict[str, Any] = field(default_factory=dict)  # training and serving hardware used
    profile: dict[str, Any] = field(default_factory=dict)  # the data profile the decisions used
    task: str = "qa"
    variants: tuple[Variant, ...] = ()  # cheapest first; evaluated by eval.<name> steps when data.eval is set

    def chosen(self) -> list[str]:
        return [s.name for s in self.strategies if s.decision == "chosen"]

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    def step(self, step_id: str) -> StepSpec:
        for spec in self.steps:
            if spec.id == step_id:
                return spec
        raise KeyError(step_id)
