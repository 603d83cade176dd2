"""Shared pytest fixtures: project trees declared as a dict, the Hub stand-in (`hub`), and a real S3
server (moto) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubstandin.fixture import hub  # noqa: F401  (the Hub stand-in fixture, see tests/hubstandin/README.md)
from moto_s3 import S3Server, moto_server

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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's standalone S3 server on 127.0.0.1, for the remote-cache tests (one per test session)."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    with moto_server() as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server's dummy credentials in this test's environment (s3fs reads the standard chain)."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return s3_server
