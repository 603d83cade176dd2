"""Expand a step's input globs into the files they name, keyed by a machine-independent name."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from adaptfile.engine.errors import MissingInput
from adaptfile.globwalk import GlobWalk

_EXCLUDED = (".adapt/", "build/", ".git/")


def expand_inputs(
    root: Path, patterns: Iterable[str], step_id: str, walk: GlobWalk | None = None
) -> dict[str, str]:
    """Paths matched by `patterns` (directories too: the stat cache skips them), sorted: name → path. Inside the project the name is the
    project-relative path (and so is the path); a file outside it (an absolute model directory)
    is named "@<dir>/<rel>" after the pattern's directory, so keys never hold absolute paths.
    Steps of one build share `walk` (a root's directory listings) so each directory is listed once."""
    found: dict[str, str] = {}
    base = str(root)
    walk = walk or GlobWalk(base)
    for pattern in patterns:
        pattern = pattern.replace("\\", "/").removeprefix("./")
        full = os.path.join(base, pattern)
        if not glob.has_magic(pattern):
            if os.path.isfile(full):
                _add(found, base, os.path.normpath(full), pattern)
                continue
            if not os.path.isdir(full):
                raise MissingInput(
                    f"step '{step_id}': input {pattern} does not exist",
                    hint=f"create {pattern} or fix the path in adapt.toml (paths are relative to {root})",
                )
            pattern = pattern.rstrip("/") + "/**/*"
            full = os.path.join(base, pattern)
        if _inside(base, full):
            for match in walk.glob(pattern):
                rel = match.replace(os.sep, "/")
                if not rel.startswith(_EXCLUDED):
                    found[rel] = rel
        else:
            for match in GlobWalk(os.curdir).glob(full):  # as glob.glob(full) lists it
                _add(found, base, os.path.normpath(match), pattern)
    return dict(sorted(found.items()))


def literal_dirs(root: Path, patterns: Iterable[str]) -> list[str]:
    """The directory each of `patterns` reads from (its part before the first wildcard; a file's: its
    directory), as absolute normalised paths, sorted."""
    base = str(root)
    return sorted(
        {_literal_dir(os.path.join(base, p.replace("\\", "/").removeprefix("./"))) for p in patterns}
    )


def _literal_dir(full: str) -> str:
    """The directory part of a pattern before its first wildcard (a literal file: its parent)."""
    parts = full.split("/")
    literal = [
        p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts) - 1)]
    ]
    return os.path.normpath("/".join(literal) or "/")


def _inside(base: str, full: str) -> bool:
    literal = _literal_dir(full)
    return literal == base or literal.startswith(base + os.sep)


def _add(found: dict[str, str], base: str, real: str, pattern: str) -> None:
    if real.startswith(base + os.sep):
        rel = os.path.relpath(real, base).replace(os.sep, "/")
        found[rel] = rel
        return
    anchor = os.path.dirname(_literal_dir(os.path.join(base, pattern)))
    found["@" + os.path.relpath(real, anchor).replace(os.sep, "/")] = real
