"""`adapt eval`: bring the eval steps up to date (cached per variant) and print the leaderboard."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.errors import ConfigError, NotBuilt, StepFailed

EPILOG = """Examples:

  adapt eval                    # leaderboard of every built variant on data.eval

  adapt eval --json             # the report object: variants, best, goal

  adapt eval --require-goal     # CI: exit 1 if no variant meets [goal]
"""


@click.command("eval", epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print the report object as JSON.")
@click.option("--no-build", is_flag=True, help="Print the last report without building anything.")
@click.option("--require-goal", is_flag=True, help="Exit 1 when [goal] is set and no variant meets it (CI).")
@pass_app
def command(app: App, as_json: bool, no_build: bool, require_goal: bool) -> None:
    """Evaluate every variant on data.eval (unchanged variants come from the cache) and rank them."""
    project = app.project()
    if project.config.data.eval is None:
        raise ConfigError(
            f"{project.path}: no [data.eval]: there is nothing to evaluate on",
            hint='add [data.eval] path = "data/eval.jsonl" (held-out input/output rows)',
        )
    if not no_build:
        _build(app, project)
    path = project.root / "build" / "report" / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotBuilt(f"no report at {path}", hint="run `adapt build` (or `adapt eval`) first") from None
    if as_json:
        app.echo_json(report)
    else:
        click.echo(leaderboard(report))
    goal = report.get("goal")
    if require_goal and goal and not goal["met"]:
        from adaptfile.cli.build_cmd import GoalNotMet

        raise GoalNotMet(
            "--require-goal: no variant met the goal",
            hint=f"see {path.parent / 'report.md'}; add examples, change strategies or relax the [goal] target",
        )


def _build(app: App, project: Any) -> None:
    from adaptfile.cli.build_cmd import planned
    from adaptfile.engine.executor import BuildOptions
    from adaptfile.engine.reporter import PlainReporter
    from adaptfile.evaluate.ladder import escalate
    from adaptfile.runtime.artifacts import manifest_extra

    plan, meta, _ = planned(project)
    extra = manifest_extra(plan, project.config.model.model_dump(), meta.model)
    result = escalate(
        project.root, plan, meta, BuildOptions(manifest_extra=extra), PlainReporter(out=sys.stderr)
    )
    if not result.ok:
        first = result.failed[0] if result.failed else None
        raise StepFailed(
            f"evaluation did not finish{f': step {first.step_id} failed: {first.error}' if first else ''}",
            hint=f"read {first.log}, fix the cause and run `adapt eval` again" if first else None,
        )


def leaderboard(report: dict[str, Any]) -> str:
    """The leaderboard as aligned text: the report's metric first, best variant marked * with the metric
    that decided."""
    from adaptfile.evaluate.report import best_reason, goal_sentence, leaderboard_rows

    header, rows = leaderboard_rows(report)
    metric = report["metric"]
    if metric in header:  # the goal (or task) metric right after the name
        i = header.index(metric)
        header = [header[0], header[i], *header[1:i], *header[i + 1 :]]
        rows = [[r[0], r[i], *r[1:i], *r[i + 1 :]] for r in rows]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    lines.append(f"best: {report['best']} ({best_reason(report)}; prompt_tokens is the mean per question)")
    if report.get("goal"):
        lines.append(goal_sentence(report["goal"]))
    return "\n".join(lines)
