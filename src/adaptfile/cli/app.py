"""The application object every command shares: project discovery, output and aborting."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from adaptfile.config import Project, load_project


@dataclass
class App:
    """Global options (-C, --file, --debug) and the helpers commands use to talk to the user."""

    directory: Path | None = None
    file: Path | None = None
    debug: bool = False
    argv: tuple[str, ...] = ()  # the command line after `adapt` when it came from the process (no-op stamps)

    def project(self) -> Project:
        """Load adapt.toml from --file, -C DIR or the current directory."""
        return load_project(self.directory, self.file)

    def echo_json(self, obj: Any) -> None:
        """Print one JSON object on one line, keys sorted, for machines."""
        click.echo(json.dumps(obj, sort_keys=True, ensure_ascii=False))

    def warn(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    @property
    def interactive(self) -> bool:
        return sys.stdout.isatty()


pass_app = click.make_pass_decorator(App)
