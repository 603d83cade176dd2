"""Training metrics: the measured peak memory is the step's own, not the process's lifetime peak."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from adaptfile.train import metrics

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/self/clear_refs").exists(),
    reason="the peak RSS can be reset only on Linux",
)


@linux_only
def test_the_peak_counts_what_the_step_allocated_over_its_start() -> None:
    before = bytearray(300_000_000)  # an earlier step's peak, freed before this one starts
    del before
    baseline = metrics.start_peak("cpu")
    assert metrics.peak_memory_gb("cpu", baseline) < 0.1  # the earlier peak is forgotten
    block = bytearray(200_000_000)
    block[::4096] = b"\1" * len(block[::4096])  # touch every page: resident
    del block
    assert metrics.peak_memory_gb("cpu", baseline) == pytest.approx(0.2, abs=0.05)


def test_without_a_baseline_the_peak_is_the_lifetime_peak() -> None:
    assert metrics.peak_memory_gb("cpu") > 0.01
