"""`adapt clean`: remove build/ (the cache stays; the next build restores it without running)."""

from __future__ import annotations

from pathlib import Path

import click

from adaptfile.cli.app import App, pass_app


def project_root(app: App) -> Path:
    """The directory holding adapt.toml, without validating it (clean and gc need no plan)."""
    from adaptfile.config import find_config

    return find_config(app.directory, app.file).parent.resolve()


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


@click.command("clean", epilog="Example:\n\n  adapt clean && adapt build   # restores build/ from the cache")
@click.option("--no-wait", is_flag=True, help="Fail at once if a build holds the project lock.")
@pass_app
def command(app: App, no_wait: bool) -> None:
    """Remove build/; cached step outputs are kept."""
    from adaptfile.engine.cleanup import clean

    freed = clean(project_root(app), wait=not no_wait)
    click.echo(f"removed build/ ({human_bytes(freed)})")
