"""Where the engine keeps things inside a project: .adapt/, build/ and adapt.lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = "adapt.lock"


@dataclass(frozen=True)
class Layout:
    """The engine's paths for one project root; nothing here touches the disk."""

    root: Path

    @property
    def dot(self) -> Path:
        return self.root / ".adapt"

    @property
    def cache(self) -> Path:
        return self.dot / "cache"

    @property
    def tmp(self) -> Path:
        return self.dot / "tmp"

    @property
    def work(self) -> Path:
        return self.dot / "work"

    @property
    def logs(self) -> Path:
        return self.dot / "logs"

    @property
    def state(self) -> Path:
        return self.dot / "state"

    @property
    def mutex(self) -> Path:
        return self.dot / "lock"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def manifest(self) -> Path:
        return self.build / "manifest.json"

    @property
    def lockfile(self) -> Path:
        return self.root / LOCK_NAME

    def log_for(self, step_id: str) -> Path:
        return self.logs / f"{step_id}.log"

    def relative(self, path: Path) -> str:
        """`path` relative to the project root, with forward slashes."""
        return path.relative_to(self.root).as_posix()
