"""The `adapt` command line: a thin click layer over the library, one module per command."""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`argv` None: the process's own command line). There, a no-op `adapt build`
    whose stamp still holds answers from it (adaptfile.noop) before click, the config models or the
    planner are imported; called with `argv` (in-process, as tests do) it always runs in full."""
    if argv is None:
        from adaptfile.noop import replay

        if replay(sys.argv[1:]):
            sys.exit(0)
    from adaptfile.cli.group import run

    run(list(sys.argv[1:] if argv is None else argv), stamp=argv is None)


def __getattr__(name: str) -> Any:
    """`from adaptfile.cli import cli`: the click group, imported on first use."""
    if name == "cli":
        from adaptfile.cli.group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
