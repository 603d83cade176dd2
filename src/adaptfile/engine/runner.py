"""Run one step: staging directory, log file, output checks, then atomic publication."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.engine.errors import DISK_FULL_HINT, DiskFull, is_disk_full
from adaptfile.engine.protocol import ProgressHook, StepContext, StepKind, output_names
from adaptfile.engine.session import Session
from adaptfile.engine.store import Entry

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


class StepError(Exception):
    """A step raised or broke its contract; carries the log path. A value for the reporter."""

    def __init__(self, step_id: str, message: str, log: Path) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.message = message
        self.log = log


def run_step(
    session: Session,
    spec: StepSpec,
    key: str,
    parts: dict[str, Any],
    upstream: dict[str, Entry],
    on_progress: ProgressHook,
) -> Entry:
    """Run `spec` into a staging directory and publish it under `key`; nothing is kept on failure.
    A full disk anywhere on the way (staging, log, checkpoints, meta.json, the rename) raises DiskFull
    and also deletes the step's work/ directory: a checkpoint written as the disk filled up may be
    half-written, and resuming from it would fail on every later build."""
    try:
        return _run_step(session, spec, key, parts, upstream, on_progress)
    except DiskFull:
        shutil.rmtree(session.layout.work / key, ignore_errors=True)
        raise
    except OSError as err:
        if not is_disk_full(err, session.layout.dot):
            raise
        shutil.rmtree(session.layout.work / key, ignore_errors=True)
        raise DiskFull(
            f"step {spec.id}: no space left on device while writing its outputs ({err})", hint=DISK_FULL_HINT
        ) from None


def _run_step(
    session: Session,
    spec: StepSpec,
    key: str,
    parts: dict[str, Any],
    upstream: dict[str, Entry],
    on_progress: ProgressHook,
) -> Entry:
    layout, kind = session.layout, session.kinds[spec.id]
    staging = session.store.staging(key)
    outputs = output_names(kind)
    for name, is_dir in outputs.items():
        if is_dir:
            (staging / "out" / name).mkdir(parents=True, exist_ok=True)
    work = layout.work / key
    work.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    log_path = layout.log_for(spec.id)
    started = time.perf_counter()
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            ctx = StepContext(
                step_id=spec.id,
                key=key,
                params={**spec.shown, **parts["params"]},
                root=layout.root,
                inputs=tuple(parts["inputs"]),
                upstream={dep: entry.out for dep, entry in upstream.items()},
                out=staging / "out",
                work=work,
                log_file=log,
                on_progress=on_progress,
                input_files=session.input_files.get(spec.id, {}),
            )
            _run_logged(kind, ctx, log, log_path)
        _check_outputs(spec.id, staging / "out", outputs, log_path)
        meta = {
            "step": spec.id,
            "parts": parts,
            "seconds": round(time.perf_counter() - started, 6),
            "peak_rss_kb": _peak_rss_kb(),
            "findings": ctx.findings,
        }
        volatile = frozenset(name.rstrip("/") for name in getattr(kind, "volatile", ()))
        try:
            entry = session.store.publish(staging, key, outputs, meta, volatile)
        except OSError as err:
            if not is_disk_full(err, layout.dot):
                raise
            raise DiskFull(
                f"step {spec.id}: no space left on device while publishing its outputs to "
                f"{layout.relative(layout.cache)}/",
                hint=DISK_FULL_HINT,
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    remember_outputs(session, entry)
    shutil.rmtree(work, ignore_errors=True)
    return entry


def _run_logged(kind: StepKind, ctx: StepContext, log: Any, log_path: Path) -> None:
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            kind.run(ctx)
    except Exception as err:  # a failing step is a value for the reporter, not a crash
        with contextlib.suppress(OSError):  # the log may be on the full disk too
            log.write(traceback.format_exc())
        if is_disk_full(err, ctx.out):
            raise DiskFull(
                f"step {ctx.step_id}: no space left on device while writing its outputs ({err})",
                hint=DISK_FULL_HINT,
            ) from None
        raise StepError(ctx.step_id, f"{type(err).__name__}: {err}", log_path) from err


def _check_outputs(step_id: str, out: Path, outputs: dict[str, bool], log_path: Path) -> None:
    for name, is_dir in outputs.items():
        path = out / name
        if not (path.is_dir() if is_dir else path.is_file()):
            what = "directory" if is_dir else "file"
            raise StepError(step_id, f"declared output {what} '{name}' was not written", log_path)


def remember_outputs(session: Session, entry: Entry) -> None:
    """Put the published (or downloaded) files in the stat cache so the next build verifies them without hashing."""
    base = session.layout.relative(entry.out) + "/"
    for rel, digest in entry.meta["files"].items():
        session.state.remember(base + rel, os.stat(entry.out / rel), digest)


def _peak_rss_kb() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def logged_warnings(log: Path) -> list[str]:
    """The lines a step logged as "warning: …": the user sees them, not only the log file."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line.removeprefix("warning: ") for line in lines if line.startswith("warning: ")]
