"""The `adapt` click group: global options, and each command's module loaded only when it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from adaptfile import __version__
from adaptfile.cli.app import App
from adaptfile.errors import EXIT_STEP_FAILED, EXIT_USAGE, AdaptError

COMMANDS = ["ask", "build", "cache", "clean", "eval", "gc", "init", "plan", "schema", "serve", "status"]


class AdaptGroup(click.Group):
    """Loads each command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        from importlib import import_module

        command = import_module(f"adaptfile.cli.{name}_cmd").command
        command.epilog = verbatim(command.epilog)
        return command


def verbatim(epilog: str | None) -> str | None:
    """Mark each paragraph of an epilog so click prints its example lines as written, unwrapped."""
    if not epilog or epilog.startswith("\b"):
        return epilog
    return "\n\n".join("\b\n" + paragraph for paragraph in epilog.split("\n\n"))


@click.group(
    cls=AdaptGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example:\n\n  adapt init --task qa && adapt plan && adapt build",
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if started in DIR (where adapt.toml lives).",
)
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), help="Use this adapt.toml.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="adapt")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, file: Path | None, debug: bool) -> None:
    """make for LLM adaptation: plan, build and evaluate ICL, RAG and fine-tuning from adapt.toml."""
    ctx.obj = App(directory=directory, file=file, debug=debug, argv=ctx.obj or ())


def run(argv: list[str], stamp: bool = False) -> None:
    """Run the command line `argv`, turning adaptfile errors into messages and exit codes; `stamp`: a
    no-op build may leave a stamp for the next one (App.argv holds the command line then)."""
    debug = "--debug" in argv
    try:
        cli.main(args=argv, prog_name="adapt", standalone_mode=False, obj=tuple(argv) if stamp else ())
    except AdaptError as err:
        if debug:
            raise
        click.echo(f"error: {err.render()}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code if err.exit_code else EXIT_USAGE)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as err:  # a bug in adaptfile: say so plainly, keep the traceback for --debug
        if debug:
            raise
        click.echo(
            f"internal error: {type(err).__name__}: {err}\n"
            "  hint: this is a bug in adaptfile; rerun with --debug and report the traceback",
            err=True,
        )
        sys.exit(EXIT_STEP_FAILED)
    sys.exit(0)
