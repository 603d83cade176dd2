"""Planning: hardware + model + data profile → strategy decisions with estimates and the step DAG."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adaptfile.plan.estimate import ACCURACY
from adaptfile.plan.hardware import Hardware, HardwareProfile, resolve_hardware
from adaptfile.plan.model import Plan, StepSpec, StrategyDecision, Variant
from adaptfile.plan.model_info import ModelInfo, resolve_embedder, resolve_model
from adaptfile.plan.rules import make_plan

if TYPE_CHECKING:
    from adaptfile.config.load import Project
    from adaptfile.hub.project import ProjectPins

PLAN_SCHEMA = 1

__all__ = [
    "Hardware",
    "HardwareProfile",
    "ModelInfo",
    "Plan",
    "StepSpec",
    "StrategyDecision",
    "Variant",
    "make_plan",
    "plan_project",
    "plan_to_json",
    "resolve_hardware",
    "resolve_model",
]


def plan_project(project: Project, pins: ProjectPins | None = None) -> Plan:
    """Resolve hardware and model (at their hub pins, when given), profile the data, and make the plan."""
    from adaptfile.plan.offsite import check_local_only
    from adaptfile.profile import profile_data  # lazy: the profiler reads files

    config = project.config
    check_local_only(config)
    hardware = resolve_hardware(config)
    model = resolve_model(config, project.root, pins.model if pins else None)
    embedder = resolve_embedder(config.rag.embed_model, project.root, pins.embedder if pins else None)
    profile = profile_data(project)
    return make_plan(config, profile, hardware, model, embedder)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON data; stable bytes under json.dumps(sort_keys=True)."""
    data = {
        "schema": PLAN_SCHEMA,
        "project": plan.project,
        "task": plan.task,
        "profile": plan.profile,
        "estimates": f"every estimate is {ACCURACY}",
        "chosen": plan.chosen(),
        "strategies": [
            {
                "name": s.name,
                "decision": s.decision,
                "reason": s.reason,
                "conditional": s.conditional,
                "estimate": s.estimate,
            }
            for s in plan.strategies
        ],
        "ladder": list(plan.ladder),
        "warnings": list(plan.warnings),
        "settings": plan.settings,
        "model": plan.model,
        "hardware": plan.hardware,
        "variants": [
            {
                "name": v.name,
                "strategies": list(v.strategies),
                "steps": list(v.steps),
                "rung": v.rung,
                "conditional": v.conditional,
            }
            for v in plan.variants
        ],
        "steps": [
            {"id": s.id, "kind": s.kind, "deps": list(s.deps), "params": s.params, "inputs": list(s.inputs)}
            for s in plan.steps
        ],
    }
    return _canonical(data)


def _canonical(value: Any) -> Any:
    """Tuples to lists, floats rounded to 6 significant digits, integral floats kept as floats."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value
