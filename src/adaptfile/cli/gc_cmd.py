"""`adapt gc`: delete cache entries that neither adapt.lock nor the last N builds reference."""

from __future__ import annotations

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.cli.clean_cmd import human_bytes, project_root


@click.command(
    "gc", epilog="Examples:\n\n  adapt gc --dry-run\n\n  adapt gc --keep 0   # keep only what adapt.lock uses"
)
@click.option("-n", "--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option(
    "--keep", type=click.IntRange(min=0), default=3, show_default=True, help="Also keep the last N builds."
)
@click.option("--no-wait", is_flag=True, help="Fail at once if a build holds the project lock.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@pass_app
def command(app: App, dry_run: bool, keep: int, no_wait: bool, as_json: bool) -> None:
    """Free disk space held by cache entries nothing references any more."""
    from adaptfile.engine.cleanup import collect_garbage

    result = collect_garbage(project_root(app), keep=keep, dry_run=dry_run, wait=not no_wait)
    if as_json:
        app.echo_json(
            {
                "dry_run": dry_run,
                "removed": sorted(result.removed),
                "kept": result.kept,
                "bytes_freed": result.freed,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    entries = len([k for k in result.removed if not k.startswith("(")])
    click.echo(f"{verb} {entries} cache entries ({human_bytes(result.freed)}); kept {result.kept}")
