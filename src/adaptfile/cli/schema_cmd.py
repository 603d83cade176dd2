"""`adapt schema`: print the JSON schema of adapt.toml, or its Markdown reference."""

from __future__ import annotations

import click


@click.command("schema", epilog="Example:\n\n  adapt schema > adaptfile.schema.json")
@click.option("--markdown", is_flag=True, help="Print the adapt.toml reference as Markdown tables instead.")
def command(markdown: bool) -> None:
    """Print the JSON schema of adapt.toml (editors validate adapt.toml with it)."""
    if markdown:
        from adaptfile.config.reference import reference_markdown

        click.echo(reference_markdown(), nl=False)
        return
    from adaptfile.config.schema import schema_text

    click.echo(schema_text(), nl=False)
