"""Fixtures for knowledge tests: a deterministic test embedder and a small corpus written per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adaptfile.knowledge.embedders import HashingEmbedder, register_embedder

TEST_EMBEDDER = "test-hashing"

CORPUS = {
    "docs/router.md": "# Router manual\n\nTo reset the router, hold the reset button for ten seconds.\n\n"
    "The status light blinks amber while the router restarts.\n",
    "docs/billing.md": "# Billing\n\nInvoices are sent on the first day of every month.\n\n"
    "Refunds take five business days to reach your card.\n",
    "docs/wifi.txt": "Wifi setup\n\nThe default wifi password is printed on the label under the device.\n",
}

register_embedder(TEST_EMBEDDER, lambda: HashingEmbedder(dims=256, window=64, id=TEST_EMBEDDER))


@pytest.fixture
def corpus(tree: Callable[[dict], Path]) -> Path:
    """A project directory holding CORPUS."""
    return tree(dict(CORPUS))


def make_long_text(topic: str, sentences: int = 40) -> str:
    """A document long enough to make several chunks, every sentence distinct."""
    return "\n\n".join(
        f"Fact {i} about {topic}: the {topic} value number {i} is {i * 7}." for i in range(sentences)
    )


@pytest.fixture
def long_text() -> Callable[..., str]:
    return make_long_text
