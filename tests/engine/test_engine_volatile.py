"""Volatile outputs (measurements): kept and shown, never compared, and still invalidating readers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptfile.engine import BuildOptions, FunctionKind, LockMeta, StepContext, build, register
from adaptfile.engine.registry import unregister
from adaptfile.plan.model import StepSpec

META = LockMeta(("icl",), {"base": "tiny", "revision": "main"})
RUNS: list[str] = []


def timed(ctx: StepContext) -> None:
    RUNS.append(ctx.step_id)
    text = "".join(ctx.input_path(rel).read_text() for rel in ctx.inputs)
    ctx.output("out.txt").write_text(text.upper())
    ctx.output("timing.json").write_text(json.dumps({"ns": time.perf_counter_ns()}))


def summary(ctx: StepContext) -> None:
    RUNS.append(ctx.step_id)
    timing = ctx.upstream_output("timed", "timing.json").read_text()
    ctx.output("report.txt").write_text(f"measured {timing}")


@pytest.fixture(autouse=True)
def kinds() -> Iterator[None]:
    register(FunctionKind("test.timed", timed, ("out.txt", "timing.json"), volatile=("timing.json",)))
    register(FunctionKind("test.summary", summary, ("report.txt",), volatile=("report.txt",)))
    RUNS.clear()
    yield
    unregister("test.timed")
    unregister("test.summary")


SPECS = (
    StepSpec("timed", "test.timed", inputs=("docs/*.md",)),
    StepSpec("summary", "test.summary", deps=("timed",)),
)


def project(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs/a.md").write_text("alpha\n")
    return root


def test_measurements_do_not_change_the_lock(tmp_path: Path) -> None:
    first, second = project(tmp_path / "one"), project(tmp_path / "two")
    build(first, SPECS, META)
    build(second, SPECS, META)
    assert (first / "adapt.lock").read_bytes() == (second / "adapt.lock").read_bytes()
    lock = json.loads((first / "adapt.lock").read_text())
    assert lock["steps"]["timed"]["outputs"]["timing.json"].startswith("volatile:")
    manifest = json.loads((first / "build/manifest.json").read_text())
    assert manifest["steps"]["timed"]["outputs"]["timing.json"] == {
        "path": "build/timed/timing.json",
        "volatile": True,
    }


def test_readers_of_a_measurement_rebuild_when_its_step_does(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    build(root, SPECS, META)
    RUNS.clear()
    build(root, SPECS, META)
    assert RUNS == []
    (root / "docs/a.md").write_text("alpha, edited\n")
    build(root, SPECS, META)
    assert RUNS == ["timed", "summary"]


def test_a_forced_rebuild_replaces_the_cached_entry(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    build(root, SPECS, META)
    before = (root / "build/timed/timing.json").read_text()
    build(root, SPECS, META, BuildOptions(force=("timed",)))
    assert (root / "build/timed/timing.json").read_text() != before


def test_warnings_a_step_logs_reach_the_reporter(tmp_path: Path) -> None:
    from adaptfile.engine.reporter import Reporter

    class Collect(Reporter):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def warning(self, message: str) -> None:
            self.seen.append(message)

    def warns(ctx: StepContext) -> None:
        ctx.log("an ordinary line")
        ctx.log("warning: the prompt needs 995 tokens, over the 192-token budget")
        ctx.output("out.txt").write_text("x")

    register(FunctionKind("test.warns", warns, ("out.txt",)))
    try:
        reporter = Collect()
        build(project(tmp_path / "p"), (StepSpec("warns", "test.warns"),), META, reporter=reporter)
        assert reporter.seen == ["warns: the prompt needs 995 tokens, over the 192-token budget"]
    finally:
        unregister("test.warns")
