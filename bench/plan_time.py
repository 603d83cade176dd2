"""Median wall time of `adapt plan` on examples/quickstart, beside `python -c pass` as the floor.

Usage: python bench/plan_time.py [--runs N] [--project DIR]
Target (issue 2): median under 0.5 s on a 2-core machine. Absolute times are context only;
the ratio to the interpreter's own start-up is the comparable figure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def median_seconds(command: list[str], runs: int) -> float:
    """Run `command` `runs` times (after one warm-up) and return the median wall time."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--project", type=Path, default=REPO / "examples" / "quickstart")
    args = parser.parse_args()
    floor = median_seconds([sys.executable, "-c", "pass"], args.runs)
    plan = median_seconds([sys.executable, "-m", "adaptfile", "-C", str(args.project), "plan"], args.runs)
    plan_json = median_seconds(
        [sys.executable, "-m", "adaptfile", "-C", str(args.project), "plan", "--json"], args.runs
    )
    print(f"project: {args.project.relative_to(REPO) if args.project.is_relative_to(REPO) else args.project}")
    print(f"runs: {args.runs} (median wall time)")
    print(f"python -c pass:     {floor:.3f} s")
    print(f"adapt plan:         {plan:.3f} s  ({plan / floor:.1f}x the interpreter floor)")
    print(f"adapt plan --json:  {plan_json:.3f} s  ({plan_json / floor:.1f}x the interpreter floor)")
    print(f"target: adapt plan median < 0.5 s -> {'PASS' if plan < 0.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
