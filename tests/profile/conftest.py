"""Fixtures for profiler tests: a project tree from a dict, loaded as a Project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adaptfile.config import Project, load_project

TOML_HEAD = '[project]\nname = "t"\n\n[model]\nbase = "scratch"\n'
ProjectMaker = Callable[..., Project]


@pytest.fixture
def project(tree: Callable[[dict[str, str | bytes]], Path]) -> ProjectMaker:
    """project(toml_tables, files) writes adapt.toml (after a minimal head) and the files; loads it."""

    def make(tables: str = "", files: dict[str, str | bytes] | None = None) -> Project:
        root = tree({"adapt.toml": TOML_HEAD + tables, **(files or {})})
        return load_project(root)

    return make
