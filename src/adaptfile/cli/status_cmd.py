"""`adapt status`: each step fresh or stale, and exactly why."""

from __future__ import annotations

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.cli.build_cmd import planned


@click.command(
    "status", epilog="Examples:\n\n  adapt status\n\n  adapt status --check   # CI: exit 1 if stale"
)
@click.argument("steps", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as one JSON object.")
@click.option("--check", is_flag=True, help="Exit 1 when any step is stale.")
@click.option("--no-remote", is_flag=True, help="Do not look stale steps up in [cache] remote.")
@pass_app
def command(app: App, steps: tuple[str, ...], as_json: bool, check: bool, no_remote: bool) -> None:
    """Show which steps are fresh and why the others would rebuild."""
    from adaptfile.cli.cache_cmd import remote_cache
    from adaptfile.engine.errors import StaleSteps
    from adaptfile.engine.status import status

    project = app.project()
    plan, meta, pins = planned(project, "status")
    remote = remote_cache(project, enabled=not no_remote)
    verdicts = status(project.root, plan.steps, meta, steps, remote)
    if remote is not None and remote.disabled:
        app.warn(f"{remote.disabled}; the remote cache was not consulted")
    stale = [v for v in verdicts if not v.fresh]
    upstream = pins.moved()  # pinned hub revisions whose branch has moved since
    if as_json:
        app.echo_json({"steps": [v.as_json() for v in verdicts], "stale": len(stale), "upstream": upstream})
    else:
        for line in upstream:
            click.echo(f"upstream: {line}")
        for verdict in verdicts:
            if verdict.fresh:
                click.echo(f"fresh  {verdict.step_id}")
            else:
                cached = " [cached]" if verdict.cached else ""
                remote_note = "; restorable from remote" if verdict.remote else ""
                click.echo(f"stale  {verdict.step_id}{cached}: {'; '.join(verdict.reasons)}{remote_note}")
        click.echo("up to date" if not stale else f"{len(stale)} of {len(verdicts)} steps stale")
    if check and stale:
        raise StaleSteps(
            f"{len(stale)} step(s) stale: {', '.join(v.step_id for v in stale)}",
            hint="run `adapt build`",
        )
