"""File and directory digests (sha256) for inputs and step outputs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from adaptfile.engine.keys import digest_of


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 hex of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tree_digest(files: dict[str, str]) -> str:
    """The digest of a directory: its relative file paths mapped to their digests."""
    return digest_of(files)


def list_files(directory: Path) -> list[str]:
    """Every regular file under `directory`, relative, forward slashes, sorted."""
    found: list[str] = []
    stack = [(directory, "")]
    while stack:
        current, prefix = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                rel = f"{prefix}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    found.append(rel)
    return sorted(found)
