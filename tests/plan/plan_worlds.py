"""Worlds for planner tests: adapt.toml text → config, hand-made data profiles, a fixed machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adaptfile.config import AdaptConfig, parse_config
from adaptfile.plan import Plan, make_plan, resolve_hardware, resolve_model
from adaptfile.plan.hardware import MachineInfo
from adaptfile.profile.model import DataProfile, ExamplesProfile, KnowledgeProfile

MACHINE = MachineInfo(memory_gb=64.0, cores=16)
HEAD = '[project]\nname = "demo"\n'


def toml(body: str, base: str = "Qwen/Qwen2.5-7B-Instruct", task: str = "qa") -> AdaptConfig:
    """A config from a TOML body; [project] and [model] are added unless the body has them."""
    text = body
    if "[project]" not in body:
        text = f'{HEAD}task = "{task}"\ninstruction = "Answer questions about Acme routers."\n' + text
    if "[model]" not in body:
        text = f'{text}\n[model]\nbase = "{base}"\n'
    return parse_config(text)


def pairs(
    rows: int = 300,
    mean: float = 200,
    longest: int = 700,
    question: int = 150,
    path: str = "data/train.jsonl",
):
    return ExamplesProfile(path, "jsonl", "messages", rows, mean, longest, question, duplicates=0)


def corpus(tokens: int = 100_000) -> KnowledgeProfile:
    return KnowledgeProfile(files=10, bytes=tokens * 4, tokens=tokens)


def profile(
    examples: int | None = 300, knowledge: int | None = None, eval_rows: int | None = None
) -> DataProfile:
    return DataProfile(
        knowledge=corpus(knowledge) if knowledge is not None else None,
        examples=pairs(examples) if examples is not None else None,
        eval=pairs(eval_rows, path="data/eval.jsonl") if eval_rows is not None else None,
    )


PlanFn = Callable[..., Plan]


@pytest.fixture
def plan(tmp_path: Path) -> PlanFn:
    """plan(config, profile) with this test's tmp_path as the project root and a fixed 16-core machine."""

    def run(config: AdaptConfig, data: DataProfile | None = None) -> Plan:
        hardware = resolve_hardware(config, MACHINE)
        model = resolve_model(config, tmp_path)
        return make_plan(config, data if data is not None else profile(), hardware, model)

    return run


def decision(result: Plan, name: str):
    return next(s for s in result.strategies if s.name == name)
