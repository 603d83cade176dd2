"""A training step's settings: planned values win, missing knobs take the [method] table's documented defaults."""

from __future__ import annotations

import pytest

from adaptfile.train.settings import Settings

# (epochs, learning rate) as config/model.py documents them for each [method] table
DOCUMENTED = {
    "lora": (3, 2e-4),
    "qlora": (3, 2e-4),
    "prefix": (3, 3e-2),
    "full": (3, 2e-5),
    "cpt": (1, 1e-5),
    "pretrain": (1, 3e-4),
}


@pytest.mark.parametrize("method", sorted(DOCUMENTED))
def test_missing_knobs_take_the_tables_documented_defaults(method: str) -> None:
    settings = Settings.from_params(method, {"hardware.train.device": "cpu"})
    assert (settings.epochs, settings.learning_rate) == DOCUMENTED[method]
    assert (settings.save_every, settings.heldout) == (50, 0.1)
    assert settings.packing is (method != "prefix")  # prefix tuning never packs


def test_planned_values_win_and_auto_resolves() -> None:
    params = {
        "hardware.train.device": "cpu",
        "lora.epochs": 2.0,
        "lora.learning_rate": 1e-3,
        "lora.heldout": 0.0,
        "lora.packing": False,
        "lora.batch_size": "auto",
        "lora.precision": "auto",
    }
    settings = Settings.from_params("lora", params)
    assert (settings.epochs, settings.learning_rate, settings.heldout, settings.packing) == (
        2.0,
        1e-3,
        0.0,
        False,
    )
    assert (settings.batch_size, settings.precision) == (
        8,
        "fp32",
    )  # "auto" without a planner: the CPU fallbacks
