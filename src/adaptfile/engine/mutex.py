"""The project lock: an OS file lock on .adapt/lock, released by the kernel if the process dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from adaptfile.engine.errors import BuildLocked


class ProjectLock:
    """Exclusive lock for builds, clean and gc. The holder's PID is written into the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise BuildLocked(
                        f"another build (PID {holder}) holds {self.path}",
                        hint="wait for it to finish, or run without --no-wait to queue behind it",
                    ) from None
                if on_wait:
                    on_wait(f"waiting for build PID {holder}…")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text or "?"
