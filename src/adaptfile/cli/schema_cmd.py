"""`adapt schema`: print the JSON schema of adapt.toml."""

from __future__ import annotations

import click

from adaptfile.config.schema import schema_text


@click.command("schema", epilog="Example:\n\n  adapt schema > adaptfile.schema.json")
def command() -> None:
    """Print the JSON schema of adapt.toml (editors validate with it)."""
    click.echo(schema_text(), nl=False)
