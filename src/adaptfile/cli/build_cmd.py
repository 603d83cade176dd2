"""`adapt build`: run the plan's stale steps (or say why they would run), write adapt.lock and build/."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.config import Project
from adaptfile.errors import ConfigError, PlanError, StepFailed

if TYPE_CHECKING:
    from adaptfile.engine.assess import StepStatus
    from adaptfile.engine.lockfile import LockMeta
    from adaptfile.engine.reporter import Reporter
    from adaptfile.hub.project import ProjectPins, Purpose
    from adaptfile.plan.model import Plan

EPILOG = """Examples:

  adapt build                   # everything stale; second run: "up to date"

  adapt build -n                # what would run and why; runs nothing

  adapt build rag.index         # one step and what it needs

  adapt build --frozen          # CI: exit 1 if adapt.lock would change

  adapt build --upgrade         # re-resolve hub revisions ("main") to their current commits

  adapt build --no-remote       # ignore [cache] remote for this run

  adapt build --frozen --no-push   # pull-request CI: restore from the remote, push nothing
"""


def planned(
    project: Project, purpose: Purpose = "build", upgrade: bool = False
) -> tuple[Plan, LockMeta, ProjectPins]:
    """The plan at the project's hub pins (adapt.lock's, unless `upgrade`), the lock metadata the engine
    records (strategies, pinned model and embedder), and the pins."""
    try:
        from adaptfile.plan import plan_project
    except ImportError as err:
        raise PlanError(f"the planner is unavailable: {err}", hint="reinstall adaptfile") from None
    from adaptfile.engine.layout import LOCK_NAME
    from adaptfile.engine.lockfile import LockMeta, read_lock
    from adaptfile.hub.project import pin_project

    lock = read_lock(project.root / LOCK_NAME)
    pins = pin_project(project.config, project.root, lock, purpose, upgrade)
    try:
        plan = plan_project(project, pins)
    except ConfigError:
        if pins.unresolved:  # the planner lacked what the unpinned repository would have told it
            raise pins.unresolved[0][1] from None
        raise
    if purpose == "build":
        _check_weights(project, plan)
    meta = LockMeta(
        strategies=tuple(plan.chosen()),
        model=pins.lock_model(project.config),
        embedder=pins.lock_embedder(),
    )
    return plan, meta, pins


def require_pins(plan: Plan, pins: ProjectPins, targets: tuple[str, ...]) -> None:
    """Fail (exit 3) when a selected step reads a hub repository that could not be pinned."""
    if not pins.unresolved:
        return
    from adaptfile.engine.dag import select

    selected = select(plan.steps, targets) if targets else plan.steps
    for key, error in pins.unresolved:
        unpinned = "model.revision" if key == "model.base" else "rag.embed_model"
        if any(unpinned in s.params and "rag.embed_revision" not in s.params for s in selected):
            raise error


def _check_weights(project: Project, plan: Plan) -> None:
    """Before anything runs: a local base model that a step will load must have safetensors weights."""
    base = project.config.model.base
    loads = any(s.params.get("model.base") == base for s in plan.steps if s.kind != "prompt.render")
    if loads and base != "scratch" and (project.root / base).is_dir():
        from adaptfile.plan.model_info import check_weights

        check_weights(project.root / base, base, required=True)


def make_reporter(app: App, as_json: bool) -> Reporter:
    from adaptfile.engine.reporter import JsonReporter, PlainReporter

    if as_json:
        return JsonReporter()
    if app.interactive:
        from adaptfile.engine.progress import RichReporter

        return RichReporter()
    return PlainReporter()


@click.command("build", epilog=EPILOG)
@click.argument("steps", nargs=-1)
@click.option("-n", "--dry-run", is_flag=True, help="Show what would run and why; run nothing.")
@click.option(
    "--force",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[STEP]",
    help="Rerun STEP (or, without a value, every selected step) even when fresh.",
)
@click.option("-k", "--keep-going", is_flag=True, help="After a failure, build what does not depend on it.")
@click.option("--frozen", is_flag=True, help="Exit 1 without running anything if adapt.lock would change.")
@click.option(
    "--upgrade",
    is_flag=True,
    help="Re-resolve hub revisions to their current commits (ignore the lock's pins).",
)
@click.option("--no-wait", is_flag=True, help="Fail at once if another build holds the project lock.")
@click.option("--no-remote", is_flag=True, help="Ignore [cache] remote: neither restore from it nor push.")
@click.option(
    "--no-push", is_flag=True, help="Restore from [cache] remote but push nothing (pull-request CI)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON event per line.")
@click.option("--require-goal", is_flag=True, help="Exit 1 when [goal] is set and no variant meets it (CI).")
@click.option(
    "--strict",
    is_flag=True,
    help="Bad example/eval rows, unreadable knowledge files and eval rows leaked from the training "
    "examples are errors (exit 3), not warnings; also `[data] strict = true`.",
)
@pass_app
def command(app: App, **options: Any) -> None:
    """Run the plan's stale steps, restoring cached outputs, and record adapt.lock."""
    from adaptfile import noop

    if options["frozen"] and options["upgrade"]:
        raise click.UsageError("--frozen and --upgrade contradict each other: --upgrade changes adapt.lock")
    project = app.project()
    noop.forget(str(project.root))
    output: list[tuple[str, str]] = []
    with _recorded(output):
        plan, nothing_ran = _build(app, project, **options)
    if nothing_ran and app.argv:
        from adaptfile.engine.inputs import literal_dirs

        read_from = literal_dirs(project.root, [p for spec in plan.steps for p in spec.inputs])
        noop.record(app.argv, str(project.root), noop.unwalked(str(project.root), read_from), output)


@contextlib.contextmanager
def _recorded(output: list[tuple[str, str]]) -> Iterator[None]:
    """Everything printed meanwhile goes on to the terminal and into `output` (the no-op stamp's)."""
    from adaptfile.noop import Recorder

    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Recorder(streams[0], "out", output), Recorder(streams[1], "err", output)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams


def _build(
    app: App,
    project: Project,
    steps: tuple[str, ...],
    dry_run: bool,
    force: str | None,
    keep_going: bool,
    frozen: bool,
    upgrade: bool,
    no_wait: bool,
    no_remote: bool,
    no_push: bool,
    as_json: bool,
    require_goal: bool,
    strict: bool,
) -> tuple[Plan, bool]:
    """The build itself, given the command's options: the plan, and whether it was a no-op the stamp may
    answer next time (every step fresh, no remote cache to consult, not a preview)."""
    from adaptfile.cli.cache_cmd import remote_cache
    from adaptfile.engine.executor import BuildOptions
    from adaptfile.engine.executor import dry_run as preview
    from adaptfile.evaluate.ladder import escalate
    from adaptfile.runtime.artifacts import manifest_extra

    plan, meta, pins = planned(project, upgrade=upgrade)
    require_pins(plan, pins, steps)
    specs = plan.steps
    options = BuildOptions(
        targets=steps,
        force=(force,) if force and force != "*" else (),
        force_all=force == "*",
        keep_going=keep_going,
        frozen=frozen,
        wait=not no_wait,
        manifest_extra=manifest_extra(plan, project.config.model.model_dump(), meta.model),
        remote=remote_cache(project, enabled=not no_remote, push=not no_push),
        strict=strict or project.config.data.strict,
    )
    if dry_run:
        verdicts = preview(project.root, specs, meta, options)
        if options.remote is not None and options.remote.disabled:
            app.warn(f"{options.remote.disabled}; the remote cache was not consulted")
        _show_preview(app, verdicts, as_json)
        return plan, False
    result = escalate(project.root, plan, meta, options, make_reporter(app, as_json))
    if not result.ok:
        failed = result.failed
        if not failed:  # a failed step is reported first: rejected data alone is exit 3
            _reject_findings(result.outcomes, strict)
            raise StepFailed("the build did not finish")
        names = ", ".join(o.step_id for o in failed)
        first = failed[0]
        raise StepFailed(
            f"step {names} failed: {first.error}",
            hint=f"read {first.log}, fix the cause and run `adapt build` again (finished steps are cached)",
        )
    if result.goal:
        _show_goal(app, result.goal, as_json)
        if require_goal and not result.goal["met"]:
            raise GoalNotMet(
                "--require-goal: no variant met the goal",
                hint="see build/report/report.md; add examples, change strategies or relax [goal] target",
            )
    nothing_ran = all(o.outcome == "fresh" for o in result.outcomes)
    return plan, nothing_ran and options.remote is None and not upgrade and not pins.unresolved


def _reject_findings(outcomes: list[Any], flag: bool) -> None:
    """--strict (or [data] strict): steps rejected for their findings end the build with exit 3."""
    rejected = [o for o in outcomes if o.outcome == "rejected"]
    if not rejected:
        return
    lines = "\n".join(f"  {o.step_id}: {o.error}" for o in rejected)
    why = "--strict" if flag else "[data] strict = true"
    raise ConfigError(
        f"{why}: the data has problems that a build without it only warns about:\n{lines}",
        hint="fix the rows and files listed above (the warnings name each file and line), "
        f"or build without {why}",
    )


class GoalNotMet(StepFailed):
    """`--require-goal` and the goal was not met (exit 1)."""


def _show_goal(app: App, goal: dict[str, Any], as_json: bool) -> None:
    from adaptfile.evaluate.report import goal_sentence

    if as_json:
        app.echo_json({"event": "goal", **goal})
    else:
        click.echo(goal_sentence(goal) + " Report: build/report/report.md")


def _show_preview(app: App, verdicts: list[StepStatus], as_json: bool) -> None:
    if as_json:
        app.echo_json({"steps": [v.as_json() for v in verdicts]})
        return
    for verdict in verdicts:
        if verdict.fresh:
            click.echo(f"fresh    {verdict.step_id}")
            continue
        action = "restore" if verdict.cached or verdict.remote else "run"
        source = "; from the remote cache" if verdict.remote else ""
        click.echo(f"{action:<8} {verdict.step_id}: {'; '.join(verdict.reasons)}{source}")
    if all(v.fresh for v in verdicts):
        click.echo("up to date: nothing would run")
