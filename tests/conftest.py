"""Shared pytest fixtures: project trees built declaratively from a dict, and the Hub stand-in (`hub`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hubstandin.fixture import hub  # noqa: F401  (the Hub stand-in fixture, see tests/hubstandin/README.md)

TreeSpec = dict[str, str | bytes]


def write_tree(root: Path, files: TreeSpec) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`; return `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[TreeSpec], Path]:
    """`tree({"adapt.toml": "...", "docs/a.md": "..."})` writes the files into tmp_path."""

    def make(files: TreeSpec) -> Path:
        return write_tree(tmp_path, files)

    return make
