"""`adapt clean`: remove build/ (the cache stays; the next build restores it without running)."""

from __future__ import annotations

from pathlib import Path

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.engine.reporter import human_bytes


def project_root(app: App) -> Path:
    """The directory holding adapt.toml, without validating it (clean and gc need no plan)."""
    from adaptfile.config import find_config

    return find_config(app.directory, app.file).parent.resolve()


@click.command("clean", epilog="Example:\n\n  adapt clean && adapt build   # restores build/ from the cache")
@click.option("--no-wait", is_flag=True, help="Fail at once if a build holds the project lock.")
@pass_app
def command(app: App, no_wait: bool) -> None:
    """Remove build/; cached step outputs are kept."""
    from adaptfile.engine.cleanup import clean

    freed = clean(project_root(app), wait=not no_wait)
    click.echo(f"removed build/ ({human_bytes(freed)})")
