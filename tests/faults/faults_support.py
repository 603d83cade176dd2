"""Helpers for the fault tests: real `adapt` processes, and an engine-independent check of the cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mini_project import write_mini_project

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass(frozen=True)
class Reference:
    root: Path  # the built project (do not modify: copy it)
    lock: bytes  # adapt.lock of the uninterrupted build
    seconds: float  # wall time of `python -m adaptfile build`, interpreter start included


def adapt_argv(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "adaptfile", "-C", str(root), *args]


def adapt(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`adapt -C root ARGS` in its own process, to completion."""
    return subprocess.run(adapt_argv(root, *args), capture_output=True, text=True, timeout=timeout, env=ENV)


def reference_build(root: Path) -> Reference:
    write_mini_project(root, target=0.01)  # out of reach: every variant is built
    started = time.monotonic()
    done = adapt(root, "build")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return Reference(root, (root / "adapt.lock").read_bytes(), seconds)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_cache(root: Path) -> int:
    """Every entry under .adapt/cache is whole: meta.json parses, names its own key, and lists exactly
    the files under out/ with their sha256. Returns the number of entries."""
    cache = root / ".adapt" / "cache"
    count = 0
    for shard in sorted(cache.iterdir()) if cache.is_dir() else []:
        for entry in sorted(shard.iterdir()):
            meta_path = entry / "meta.json"
            assert meta_path.is_file(), f"cache entry without meta.json: {entry}"
            meta = json.loads(meta_path.read_text())
            assert meta["key"] == entry.name and entry.name[:2] == shard.name, entry
            out = entry / "out"
            files = {p.relative_to(out).as_posix(): sha256(p) for p in out.rglob("*") if p.is_file()}
            assert files == meta["files"], f"cache entry {entry} does not match its meta.json"
            count += 1
    return count


def check_records(root: Path) -> None:
    """adapt.lock and build/manifest.json are each absent or whole JSON (written by rename)."""
    for path in (root / "adapt.lock", root / "build" / "manifest.json"):
        if path.exists():
            json.loads(path.read_text())


def build_tree(root: Path) -> dict[str, str]:
    """build/ as it looks: each path → 'link:<target>' or the file's sha256 (links are not followed)."""
    shown: dict[str, str] = {}
    base = root / "build"
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if path.is_symlink():
            shown[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            shown[rel] = sha256(path)
    return shown
