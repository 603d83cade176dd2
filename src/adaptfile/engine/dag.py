"""The step DAG the executor walks: validation, topological order and target selection."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from adaptfile.errors import PlanError, UsageError

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


def ordered(specs: Sequence[StepSpec]) -> list[StepSpec]:
    """Steps in dependency order (stable: plan order among independent steps); checks the graph."""
    by_id: dict[str, StepSpec] = {}
    for spec in specs:
        if spec.id in by_id:
            raise PlanError(f"two steps are called '{spec.id}'", hint="step ids must be unique")
        by_id[spec.id] = spec
    for spec in specs:
        for dep in spec.deps:
            if dep not in by_id:
                raise PlanError(
                    f"step '{spec.id}' depends on unknown step '{dep}'", hint="fix the plan's deps"
                )
    done: dict[str, bool] = {}
    result: list[StepSpec] = []

    def visit(spec: StepSpec, path: tuple[str, ...]) -> None:
        state = done.get(spec.id)
        if state is True:
            return
        if state is False:
            cycle = " → ".join((*path[path.index(spec.id) :], spec.id))
            raise PlanError(f"the step graph has a cycle: {cycle}", hint="a step cannot depend on itself")
        done[spec.id] = False
        for dep in spec.deps:
            visit(by_id[dep], (*path, spec.id))
        done[spec.id] = True
        result.append(spec)

    for spec in specs:
        visit(spec, ())
    return result


def select(specs: Sequence[StepSpec], targets: Iterable[str]) -> list[StepSpec]:
    """The named steps and everything they need, in dependency order; all steps when none named."""
    order = ordered(specs)
    wanted = list(targets)
    if not wanted:
        return order
    by_id = {spec.id: spec for spec in order}
    needed: set[str] = set()
    stack = []
    for target in wanted:
        if target not in by_id:
            close = difflib.get_close_matches(target, list(by_id), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"steps: {', '.join(by_id)}"
            raise UsageError(f"no step called '{target}'", hint=hint)
        stack.append(target)
    while stack:
        step_id = stack.pop()
        if step_id not in needed:
            needed.add(step_id)
            stack.extend(by_id[step_id].deps)
    return [spec for spec in order if spec.id in needed]
