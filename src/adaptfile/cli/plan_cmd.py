"""`adapt plan`: show what the build will do, and why, without running anything."""

from __future__ import annotations

import click

from adaptfile.cli.app import App, pass_app


@click.command(
    "plan",
    epilog="Examples:\n\n  adapt plan\n\n  adapt -C examples/quickstart plan --json | jq '.strategies[].decision'",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (stable, sorted keys).")
@pass_app
def command(app: App, as_json: bool) -> None:
    """Decide which strategies fit, with reasons, estimates and the build steps."""
    project = app.project()
    from adaptfile.cli.build_cmd import planned
    from adaptfile.plan import plan_to_json

    plan = plan_to_json(planned(project, "plan")[0])
    if as_json:
        app.echo_json(plan)
        return
    from adaptfile.cli.plan_view import render_plan

    render_plan(plan)
