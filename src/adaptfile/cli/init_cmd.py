"""`adapt init`: scaffold a commented adapt.toml in an empty directory."""

from __future__ import annotations

from pathlib import Path

import click

from adaptfile.cli.app import App, pass_app

TASKS = ["qa", "classify", "extract", "summarize", "chat", "generate"]


@click.command(
    "init",
    epilog="Examples:\n\n  mkdir support && cd support && adapt init --task qa\n\n"
    "  mkdir offline && cd offline && adapt init --scratch",
)
@click.option(
    "--task", type=click.Choice(TASKS), default="qa", show_default=True, help="What the model must do."
)
@click.option("--name", help="Project name (default: the directory's name).")
@click.option(
    "--scratch",
    is_flag=True,
    help="Train a tiny model from scratch on docs/ (offline, CPU): settings that learn on a few pages.",
)
@pass_app
def command(app: App, task: str, name: str | None, scratch: bool) -> None:
    """Write a commented adapt.toml and a starter prompt template; never overwrites."""
    from adaptfile.scaffold import init_project

    directory = app.directory or Path.cwd()
    for path in init_project(directory, task, name, scratch):
        click.echo(f"wrote {path}")
    click.echo("next: edit adapt.toml, then run `adapt plan`")
