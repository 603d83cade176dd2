"""Errors the build engine shows to a user, each with the exit code of its phase and a fix."""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
from pathlib import Path

from adaptfile.errors import EXIT_STEP_FAILED, AdaptError, ConfigError, PlanError

EXIT_INTERRUPTED = 130


class UnknownStepKind(PlanError):
    """A step names a kind that no built-in module or installed plugin implements."""


class MissingInput(ConfigError):
    """A step's input names a file that does not exist."""


class BuildLocked(AdaptError):
    """Another `adapt build` holds the project lock and --no-wait was given."""

    exit_code = EXIT_STEP_FAILED


class BuildInterrupted(AdaptError):
    """SIGINT or SIGTERM stopped the build; nothing half-written was kept."""

    exit_code = EXIT_INTERRUPTED


class FrozenMismatch(AdaptError):
    """`--frozen` and the build would change adapt.lock."""

    exit_code = EXIT_STEP_FAILED


class StaleSteps(AdaptError):
    """`adapt status --check` found steps that need a rebuild."""

    exit_code = EXIT_STEP_FAILED


class DiskFull(AdaptError):
    """The disk filled up while a step wrote or published its outputs; nothing half-written was kept."""

    exit_code = EXIT_STEP_FAILED


NEARLY_FULL = 1 << 20  # bytes

DISK_FULL_HINT = (
    "free disk space (`adapt gc` deletes cache entries no build uses) and run `adapt build` again; "
    "finished steps are cached and the partial output was discarded"
)


def is_disk_full(err: BaseException | None, where: Path | None = None) -> bool:
    """Is `err`, or an error it was raised from, "no space left on device" (or a full quota)?
    With `where`: also any I/O-looking error while the disk holding `where` has under 1 MiB free
    (sqlite says "disk I/O error", torch "file write failed")."""
    if isinstance(err, AdaptError):
        return False  # already explained (a DiskFull names its step)
    if where is not None and isinstance(err, (OSError, RuntimeError, sqlite3.Error)):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(where).free < NEARLY_FULL:
                return True
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(err)  # e.g. safetensors and torch.save wrap the OSError; sqlite says it in words
        if "No space left on device" in text or "database or disk is full" in text:
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False
