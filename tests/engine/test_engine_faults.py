"""Faults with real processes: kill -9 mid-step, SIGTERM, concurrent builds, --no-wait, imports."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from engine_kinds import chain
from engine_procs import run_driver, write_specs

from adaptfile.plan.model import StepSpec

SLOW = (*chain(), StepSpec("slow", "test.slow", deps=("docs.concat",), params={"slow.seconds": 30}))


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def cache_steps(root: Path) -> set[str]:
    return {json.loads(p.read_text())["step"] for p in (root / ".adapt/cache").glob("*/*/meta.json")}


def test_kill_9_mid_step_leaves_nothing_trusted(project: Path, tmp_path: Path) -> None:
    write_specs(project, SLOW)
    started = tmp_path / "started"
    proc = run_driver(project, env={"ADAPT_TEST_STARTED": str(started)})
    wait_for(started)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert "slow" not in cache_steps(project)
    assert not (project / "build/slow").exists()
    fast = (*chain(), StepSpec("slow", "test.slow", deps=("docs.concat",), params={"slow.seconds": 0}))
    write_specs(project, fast)
    done = run_driver(project, "--no-wait")  # the dead build's OS lock is gone
    _out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert (project / "build/slow/out.txt").read_text() == "slow:alpha\nbeta\n"
    assert not list((project / ".adapt/tmp").glob("*"))
    assert "slow" in json.loads((project / "adapt.lock").read_text())["steps"]


def test_sigterm_stops_the_step_and_exits_130(project: Path, tmp_path: Path) -> None:
    write_specs(project, SLOW)
    started = tmp_path / "started"
    proc = run_driver(project, env={"ADAPT_TEST_STARTED": str(started)})
    wait_for(started)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "slow" not in cache_steps(project)
    assert not list((project / ".adapt/tmp").glob("*"))
    again = run_driver(project, "--no-wait", env={"ADAPT_TEST_STARTED": str(started)})
    wait_for(started)  # lock was released: the next build got in and started the step
    again.kill()
    again.wait()


def test_concurrent_builds_one_waits_both_succeed_built_once(project: Path, tmp_path: Path) -> None:
    specs = (StepSpec("slow", "test.slow", params={"slow.seconds": 3.0}),)
    write_specs(project, specs)
    runs = tmp_path / "runs.log"
    started = tmp_path / "started"
    env = {"ADAPT_TEST_RUN_LOG": str(runs), "ADAPT_TEST_STARTED": str(started)}
    first = run_driver(project, env=env)
    wait_for(started)
    second = run_driver(project, env=env)
    _out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert f"waiting for build PID {first.pid}" in err2
    assert "up to date" in out2
    assert runs.read_text().splitlines() == ["slow"]


def test_no_wait_fails_fast_while_another_build_runs(project: Path, tmp_path: Path) -> None:
    write_specs(project, (StepSpec("slow", "test.slow", params={"slow.seconds": 30}),))
    started = tmp_path / "started"
    first = run_driver(project, env={"ADAPT_TEST_STARTED": str(started)})
    try:
        wait_for(started)
        second = run_driver(project, "--no-wait")
        _out, err = second.communicate(timeout=30)
        assert second.returncode == 1
        assert f"PID {first.pid}" in err
    finally:
        first.kill()
        first.wait()


def test_noop_build_imports_no_ml_library(project: Path) -> None:
    write_specs(project)
    for _ in range(2):
        proc = run_driver(project)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "IMPORTED=[]" in err
    assert "up to date" in out
