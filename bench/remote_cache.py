"""Benchmark: a fresh clone of examples/quickstart restoring from a remote cache vs building from scratch.

Machine A builds the quickstart from scratch with [cache] remote set (a directory), so every step is
pushed as it finishes; `adapt cache push` then copies the same entries to an S3 bucket on moto's
standalone server (127.0.0.1). For each remote, a fresh clone (no .adapt/, no build/) runs
`adapt build --frozen`: it must run 0 steps, restore every step from the remote, and write the same
adapt.lock. Prints both times and their ratio (the target is under 10%).

    .venv/bin/python bench/remote_cache.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from moto_s3 import moto_server  # noqa: E402


def adapt(root: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args],
                          capture_output=True, text=True, env=env, timeout=7200)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"adapt {' '.join(args)} failed in {root}:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout + done.stderr


def with_remote(root: Path, remote: str) -> None:
    """Point [cache] remote at `remote`; an S3 remote needs local_only off (the quickstart sets it)."""
    toml = root / "adapt.toml"
    text = toml.read_text().split("\n[cache]\n")[0]
    if remote.startswith("s3://"):
        text = text.replace("local_only = true", "local_only = false")
    toml.write_text(text + f'\n[cache]\nremote = "{remote}"\n')


def clone(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".adapt", "build"))
    return dest


def ran(output: str) -> int:
    return sum(line.startswith("run ") for line in output.splitlines())


def main() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    with tempfile.TemporaryDirectory() as tmp, moto_server() as s3:
        work = Path(tmp)
        env.update(s3.env)
        env["AWS_ENDPOINT_URL"] = s3.endpoint
        s3.make_bucket("bench")
        (work / "shared").mkdir()
        dev = clone(REPO / "examples" / "quickstart", work / "a")
        with_remote(dev, str(work / "shared"))
        scratch, out = adapt(dev, env, "build")
        steps = ran(out)
        print(
            f"from scratch (machine A, pushing to the directory remote): {scratch:.1f} s, {steps} steps run"
        )
        with_remote(dev, "s3://bench/quickstart")
        pushed, out = adapt(dev, env, "cache", "push")
        print(f"adapt cache push to moto S3: {pushed:.1f} s ({out.strip().splitlines()[-1]})")

        for label, remote in [
            ("directory remote", str(work / "shared")),
            ("moto S3", "s3://bench/quickstart"),
        ]:
            fresh = clone(dev, work / label.replace(" ", "-"))
            with_remote(fresh, remote)
            seconds, out = adapt(fresh, env, "build", "--frozen")
            restored = out.count("from remote cache")
            same = (fresh / "adapt.lock").read_bytes() == (dev / "adapt.lock").read_bytes()
            print(f"{label}: fresh clone restored in {seconds:.1f} s, {ran(out)} steps run, {restored} restored "
                  f"from remote, adapt.lock identical: {same}; ratio {seconds / scratch:.1%} of from-scratch")  # fmt: skip


if __name__ == "__main__":
    main()
