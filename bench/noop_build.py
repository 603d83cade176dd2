"""Benchmark: wall time of the real no-op `adapt build` at 1,000 and 10,000 knowledge files, beside `dvc repro`.

Each size gets a project whose [data.knowledge] globs N small Markdown files in directories of 500
(`base = "scratch"`, RAG excluded and a sliver of an epoch, so the first build takes seconds). After
the first build and two untimed no-ops (the no-op stamp is written by then), `adapt build` runs
--repeat times as a fresh process; the
line reports the median wall and CPU time, how many files the engine hashed (from .adapt/state: rows whose
check time moved) and whether every run said "up to date". When dvc is installed, the same
directory also holds a dvc pipeline (one stage whose dependency is the docs/ directory) and
`dvc repro` runs interleaved with `adapt build`, so both see the same machine load; the ratio is
dvc's median over adapt's. Baselines (`python -c pass`, `adapt --version`) come first: on a shared
machine they say how loaded it was. Child processes write bytecode, as an installed package has it.

    .venv/bin/python bench/noop_build.py [--sizes 1000,10000] [--repeat 7] [--no-dvc]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOML = """[project]
name = "noop-bench"

[model]
base = "scratch"

[model.scratch]
layers = 1
hidden = 16
heads = 1
vocab_size = 256
context = 64

[data.knowledge]
paths = ["docs/**/*.md"]

[strategy]
exclude = ["rag"]

[pretrain]
epochs = 0.01
"""
DVC_STAGE = "find docs -name '*.md' | sort | xargs cat > corpus.txt"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"DVC_NO_ANALYTICS": "1"}


def adapt_command() -> list[str]:
    script = Path(sys.executable).with_name("adapt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "adaptfile"]


def dvc_command() -> list[str] | None:
    script = Path(sys.executable).with_name("dvc")
    found = str(script) if script.exists() else shutil.which("dvc")
    return [found] if found else None


def make_project(base: Path, count: int) -> Path:
    root = base / f"p{count}"
    (root / "docs").mkdir(parents=True)
    (root / "adapt.toml").write_text(TOML)
    for index in range(count):
        folder = root / "docs" / f"d{index // 500:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc{index:05d}.md").write_text(
            f"# Page {index}\n\nThe Acme R2 router keeps setting {index} after a reset; "
            f"hold RESET for {index % 13} seconds to clear it.\n"
        )
    return root


def run(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds and stdout+stderr of one process; exits on a failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed in {cwd} (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout + done.stderr


def checked_rows(root: Path) -> dict[str, int]:
    """The engine's stat cache: path → when its digest was last checked (hashing moves it)."""
    with sqlite3.connect(f"file:{root / '.adapt' / 'state'}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT path, checked_ns FROM files"))


def medians(command: list[str], cwd: Path, repeat: int) -> str:
    """Median wall and CPU seconds of `repeat` runs, as printed."""
    runs = [run(command, cwd)[:2] for _ in range(repeat)]
    wall, cpu = (statistics.median(column) for column in zip(*runs, strict=True))
    return f"{wall:.3f} s (cpu {cpu:.3f} s)"


def bench_size(base: Path, count: int, repeat: int, dvc: list[str] | None) -> None:
    root = make_project(base, count)
    adapt = [*adapt_command(), "build"]
    first = run(adapt, root)[0]
    # untimed: warm the OS caches; a no-op writes the no-op stamp (.adapt/noop-stamp.json) unless files
    # are under 2 s old (adaptfile.noop.RACY_NS), as they may be right after the first build: then the second does
    run(adapt, root)
    time.sleep(2)
    run(adapt, root)
    repro = None
    if dvc:
        run([*dvc, "init", "--no-scm", "-q"], root)
        run([*dvc, "config", "core.analytics", "false"], root)
        run([*dvc, "stage", "add", "-q", "-n", "corpus", "-d", "docs", "-o", "corpus.txt", DVC_STAGE], root)
        dvc_first = run([*dvc, "repro"], root)[0]
        run([*dvc, "repro"], root)
        repro = [*dvc, "repro"]
    before = checked_rows(root)
    walls, cpus, dvc_walls, dvc_cpus, up_to_date = [], [], [], [], True
    for _ in range(repeat):
        wall, cpu, out = run(adapt, root)
        walls.append(wall)
        cpus.append(cpu)
        up_to_date &= "up to date" in out
        if repro:
            wall, cpu, out = run(repro, root)
            dvc_walls.append(wall)
            dvc_cpus.append(cpu)
            up_to_date &= "up to date" in out
    after = checked_rows(root)
    hashed = sum(1 for path, checked in after.items() if before.get(path) != checked)
    median = statistics.median(walls)
    line = (
        f"no-op adapt build {count:>6} knowledge files: median {median:.3f} s wall "
        f"(min {min(walls):.3f}, cpu {statistics.median(cpus):.3f} s, {repeat} runs; first build {first:.1f} s), "
        f"files hashed {hashed}, "
        f"{'up to date' if up_to_date else 'NOT up to date'}"
    )
    if repro:
        dvc_median = statistics.median(dvc_walls)
        line += (
            f"; dvc repro median {dvc_median:.3f} s (min {min(dvc_walls):.3f}, "
            f"cpu {statistics.median(dvc_cpus):.3f} s; first {dvc_first:.1f} s)"
            f" = {dvc_median / median:.1f}x adapt's"
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-dvc", action="store_true", help="Skip dvc even when it is installed.")
    args = parser.parse_args()
    dvc = None if args.no_dvc else dvc_command()
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        python = medians([sys.executable, "-c", "pass"], here, args.repeat)
        cli = medians([*adapt_command(), "--version"], here, args.repeat)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"baseline medians: `python -c pass` {python}, `adapt --version` {cli}; "
            f"load average {load} on {os.cpu_count()} CPUs",
            flush=True,
        )
        if dvc is None:
            why = "--no-dvc" if args.no_dvc else "not installed; `pip install dvc` to compare"
            print(f"dvc repro: not compared ({why})")
        for count in (int(s) for s in args.sizes.split(",")):
            bench_size(here, count, args.repeat, dvc)


if __name__ == "__main__":
    main()
