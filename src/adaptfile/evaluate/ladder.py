"""Goal-driven escalation: build and evaluate the ladder's rungs cheapest first, stop when the goal is met."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.engine.executor import all_succeeded, failures
from adaptfile.engine.reporter import Reporter
from adaptfile.errors import UsageError
from adaptfile.plan.dag import TRAINERS

if TYPE_CHECKING:
    from adaptfile.engine.executor import BuildOptions, StepOutcome
    from adaptfile.engine.lockfile import LockMeta
    from adaptfile.plan.model import Plan, StepSpec

REPORT_STEP = "report"


@dataclass
class Escalation:
    """What the build did: its outcomes (last per step), the rounds' targets and the goal verdict."""

    outcomes: list[StepOutcome]
    rounds: list[list[str]] = field(default_factory=list)
    goal: dict[str, Any] | None = None  # the report's goal verdict, when a goal was measured
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all_succeeded(self.outcomes)

    @property
    def failed(self) -> list[StepOutcome]:
        return failures(self.outcomes)


def rounds(plan: Plan) -> list[list[str]]:
    """Eval targets per round: every unconditional variant first, then each conditional rung alone."""
    first = [v.eval_step for v in plan.variants if not v.conditional]
    later = [[plan.variant(name).eval_step] for name in plan.ladder if plan.variant(name).conditional]
    return [first, *later]


def escalate(root: Path, plan: Plan, meta: LockMeta, options: BuildOptions, reporter: Reporter) -> Escalation:
    """With [goal] and data.eval: rung by rung until the goal is met, then the report over what was built.
    Otherwise (or with explicit targets): one ordinary build of everything selected."""
    from adaptfile.engine.executor import build

    specs = list(plan.steps)
    ids = {s.id for s in specs}
    goal = plan.step(REPORT_STEP).params if REPORT_STEP in ids else {}
    if options.targets or not goal.get("goal.metric"):
        result = build(root, specs, meta, options, reporter)
        return Escalation(result.outcomes, [list(options.targets)], _read_goal(root), result.seconds)
    unknown = sorted(set(options.force) - ids)
    if unknown:
        raise UsageError(
            f"--force {unknown[0]}: no such step in this build", hint=f"steps: {', '.join(sorted(ids))}"
        )
    if options.frozen:
        _check_frozen(root, plan, specs, meta)
    shared = _Shared(reporter)
    done: dict[str, StepOutcome] = {}
    escalation = Escalation([])
    try:
        evaluated: list[str] = []
        for targets in rounds(plan):
            escalation.seconds += _round(build, root, specs, meta, options, shared, targets, done)
            escalation.rounds.append(targets)
            if not all(o.outcome in ("fresh", "restored", "ran") for o in done.values()):
                break
            evaluated += targets
            if _verdict(root, plan, evaluated, goal)["met"]:
                break
        if all(o.outcome in ("fresh", "restored", "ran") for o in done.values()):
            report = _report_spec(plan.step(REPORT_STEP), plan, evaluated)
            specs = [report if s.id == REPORT_STEP else s for s in specs]
            escalation.seconds += _round(build, root, specs, meta, options, shared, [REPORT_STEP], done)
            escalation.rounds.append([REPORT_STEP])
    finally:
        escalation.outcomes = list(done.values())
        shared.finish(escalation)
    escalation.goal = _read_goal(root) if escalation.ok else None
    return escalation


def _check_frozen(root: Path, plan: Plan, specs: list[StepSpec], meta: LockMeta) -> None:
    """--frozen with a goal: every step of every rung is compared with adapt.lock before the first round
    runs. Rungs past the first may be absent from the lock (the locked build met the goal before them);
    the report is compared in each shape the escalation can give it (evaluated rungs 1, 1-2, ...)."""
    from adaptfile.engine.dag import select
    from adaptfile.engine.errors import FrozenMismatch
    from adaptfile.engine.frozen import plan_lock_changes

    ladder = rounds(plan)
    first = {s.id for s in select(specs, ladder[0])}
    optional = {s.id for s in specs} - first - {REPORT_STEP}
    evaluated: list[str] = []
    candidates = []
    for targets in ladder:
        evaluated += targets
        report = _report_spec(plan.step(REPORT_STEP), plan, evaluated)
        shaped = [report if s.id == REPORT_STEP else s for s in specs]
        candidates.append(plan_lock_changes(root, shaped, meta, optional))
        if not candidates[-1]:
            return
    problems = min(candidates, key=len)
    raise FrozenMismatch(
        "--frozen: the build would change adapt.lock (checked for every rung of the goal ladder before "
        "running anything):\n  " + "\n  ".join(problems),
        hint="run `adapt build` without --frozen and commit adapt.lock",
    )


def _round(build: Any, root: Path, specs: list[StepSpec], meta: LockMeta, options: BuildOptions,
           reporter: _Shared, targets: list[str], done: dict[str, StepOutcome]) -> float:  # fmt: skip
    """One engine build of `targets` (and what they need); returns its seconds.
    --force applies once: a step an earlier round already ran is not forced again."""
    from adaptfile.engine.dag import select

    selected = {s.id for s in select(specs, targets)}
    wanted = selected if options.force_all else set(options.force) & selected
    forced = tuple(sorted(wanted - {i for i, o in done.items() if o.outcome == "ran"}))
    options = dataclasses.replace(options, targets=tuple(targets), force=forced, force_all=False)
    result = build(root, specs, meta, options, reporter)
    for outcome in result.outcomes:
        if outcome.step_id not in done or done[outcome.step_id].outcome == "fresh":
            done[outcome.step_id] = outcome
    return float(result.seconds)


def _report_spec(spec: StepSpec, plan: Plan, evaluated: Sequence[str]) -> StepSpec:
    """The report over the evaluated variants only (and their trained models)."""
    variants = [v for v in plan.variants if v.eval_step in evaluated]
    trained = tuple(dict.fromkeys(s for v in variants for s in v.steps if s.endswith(".train")))
    # the training data's retrieval recall, when a RAG variant trained on retrieved passages was evaluated
    sft = any(t.removesuffix(".train") in TRAINERS for t in trained)
    recall = tuple(d for d in spec.deps if d == "rag.train_context" and sft)
    imported = tuple(d for d in spec.deps if d == "model.import")  # a GGUF base: the report names it
    loads = tuple(d for d in spec.deps if d in ("eval.load", "examples.load"))  # bad rows, leakage
    deps = (*(v.eval_step for v in variants), *trained, *recall, *imported, *loads)
    return dataclasses.replace(spec, deps=deps)


def _verdict(root: Path, plan: Plan, evaluated: list[str], goal: dict[str, Any]) -> dict[str, Any]:
    from adaptfile.evaluate.report import goal_verdict

    variants = []
    for v in plan.variants:
        if v.eval_step in evaluated:
            results = _read_json(root / "build" / v.eval_step / "results.json")
            variants.append({"name": v.name, "metrics": results.get("metrics", {})})
    wanted = {"metric": goal["goal.metric"], "target": goal["goal.target"]}
    return goal_verdict(wanted, variants, list(plan.ladder))


def _read_goal(root: Path) -> dict[str, Any] | None:
    return _read_json(root / "build" / REPORT_STEP / "report.json").get("goal")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class _Shared(Reporter):
    """One reporter across the rounds: closes once and prints one summary line at the end."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.findings: dict[tuple[str, str], dict[str, Any]] = {}  # each shown once, not once per round

    def build_started(self, total: int) -> None:
        self.inner.build_started(total)

    def step_started(self, step_id: str, reasons: list[str]) -> None:
        self.inner.step_started(step_id, reasons)

    def step_progress(self, step_id: str, done: float, total: float | None, message: str) -> None:
        self.inner.step_progress(step_id, done, total, message)

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None:
        self.inner.step_finished(step_id, outcome, seconds, source)

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        self.inner.transfer(step_id, verb, done, total)

    def step_failed(self, step_id: str, message: str, log: str) -> None:
        self.inner.step_failed(step_id, message, log)

    def info(self, message: str) -> None:
        self.inner.info(message)

    def warning(self, message: str) -> None:
        self.inner.warning(message)

    def finding(self, step_id: str, finding: dict[str, Any]) -> None:
        seen = (step_id, str(finding.get("message")))
        if seen not in self.findings:
            self.findings[seen] = finding
            self.inner.finding(step_id, finding)

    def build_finished(self, summary: dict[str, Any]) -> None:
        pass  # one summary for the whole escalation: see finish()

    def close(self) -> None:
        pass

    def finish(self, escalation: Escalation) -> None:
        counts: dict[str, int] = {}
        for o in escalation.outcomes:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        up_to_date = escalation.ok and set(counts) <= {"fresh"}
        summary = {"ok": escalation.ok, "up_to_date": up_to_date, "counts": counts,
                   "seconds": round(escalation.seconds, 3), "warnings": len(self.findings)}  # fmt: skip
        self.inner.build_finished(summary)
        self.inner.close()


__all__ = ["Escalation", "escalate", "rounds"]
