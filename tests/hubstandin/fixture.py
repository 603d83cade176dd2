"""The `hub` pytest fixture: a fresh Hub stand-in per test, checked for unimplemented routes at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import HubStandIn


@pytest.fixture
def hub() -> Iterator[HubStandIn]:
    """A running Hub stand-in with no repositories; `hub.add_repo(...)`, `hub.env(tmp_path)`, `hub.url`."""
    standin = HubStandIn().start()
    try:
        yield standin
    finally:
        standin.stop()
    assert not standin.crashes, f"the hub stand-in failed on: {standin.crashes}"
    assert not standin.unhandled, (
        f"the hub stand-in does not implement: {standin.unhandled} (add it to server.py)"
    )
