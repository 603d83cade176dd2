"""Benchmark: wall time of a no-op `adapt build` for 10 / 1,000 / 10,000 input files.

Each measurement is a fresh process that does what `adapt build` does on a no-op: import the CLI,
load adapt.toml, then run the engine (trivial concat → upper → first-line steps). It also reports
the engine's own time and how many files it hashed (always 0: no-op cost grows only by `stat`).

    .venv/bin/python bench/noop_build.py [--sizes 10,1000,10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOML = '[project]\nname = "bench"\n\n[model]\nbase = "scratch"\n'


def child(root: Path) -> None:
    """One no-op build, as the `adapt build` process would run it; prints timings as JSON."""
    started = time.perf_counter()
    import adaptfile.cli  # noqa: F401  (the CLI's import cost)
    from adaptfile.config import load_project
    from adaptfile.engine import BuildOptions, FunctionKind, LockMeta, build, register
    from adaptfile.engine import state as state_module
    from adaptfile.engine.reporter import PlainReporter
    from adaptfile.plan.model import StepSpec

    def concat(ctx):
        ctx.output("out.txt").write_bytes(b"".join(ctx.input_path(r).read_bytes() for r in ctx.inputs))

    def upper(ctx):
        ctx.output("out.txt").write_bytes(ctx.upstream_output("concat", "out.txt").read_bytes().upper())

    def first(ctx):
        ctx.output("out.txt").write_bytes(ctx.upstream_output("upper", "out.txt").read_bytes()[:10])

    register(FunctionKind("bench.concat", concat, ("out.txt",)))
    register(FunctionKind("bench.upper", upper, ("out.txt",)))
    register(FunctionKind("bench.first", first, ("out.txt",)))
    specs = (
        StepSpec("concat", "bench.concat", params={"sep": ""}, inputs=("docs/**/*.md",)),
        StepSpec("upper", "bench.upper", deps=("concat",)),
        StepSpec("first", "bench.first", deps=("upper",)),
    )
    project = load_project(root)
    hashed = []
    real = state_module.file_digest
    state_module.file_digest = lambda path: (hashed.append(path), real(path))[1]
    engine_started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        result = build(project.root, specs, LockMeta(), BuildOptions(), PlainReporter(sink, sink))
    engine = time.perf_counter() - engine_started
    summary = result.summary()
    print(
        json.dumps(
            {"engine": engine, "total": time.perf_counter() - started, "hashed": len(hashed), **summary}
        )
    )


def make_project(base: Path, count: int) -> Path:
    root = base / f"p{count}"
    (root / "docs").mkdir(parents=True)
    (root / "adapt.toml").write_text(TOML)
    for index in range(count):
        folder = root / "docs" / f"d{index // 500:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc{index:05d}.md").write_text(f"document {index}\n")
    return root


def one_build(root: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root)], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(s) for s in args.sizes.split(",")):
            root = make_project(Path(tmp), count)
            _, first = one_build(root)
            assert first["ok"], first
            one_build(root)  # warm the OS caches
            walls, engines, hashed, up_to_date = [], [], 0, True
            for _ in range(args.repeat):
                wall, report = one_build(root)
                walls.append(wall)
                engines.append(report["engine"])
                hashed += report["hashed"]
                up_to_date &= report["up_to_date"]
            print(
                f"no-op build {count:>6} input files: median {statistics.median(walls):.3f} s wall "
                f"(engine {statistics.median(engines) * 1000:.1f} ms), files hashed {hashed}, "
                f"{'up to date' if up_to_date else 'NOT up to date'}"
            )


if __name__ == "__main__":
    main()
