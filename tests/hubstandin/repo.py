"""Hub repositories for the stand-in: commits of whole file trees, movable branches, tags, git-style ids."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Files the real Hub stores in Git LFS (its default .gitattributes): their ETag is the sha256 of the content,
# and HEAD answers carry X-Linked-Etag / X-Linked-Size.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".onnx", ".ckpt")
LFS_POINTER_SIZE = 134  # bytes of a git-lfs pointer file for a sha256 oid, as the Hub reports it
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # commit dates are fixed so that API answers are reproducible


def git_blob_sha(content: bytes) -> str:
    """The git object id of a blob: what the Hub sends as the ETag of a file stored in git."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def etag(path: str, content: bytes) -> str:
    """The ETag the Hub sends for a file: sha256 for LFS files, the git blob id otherwise."""
    return hashlib.sha256(content).hexdigest() if is_lfs(path) else git_blob_sha(content)


def safetensors_parameters(content: bytes) -> dict[str, int]:
    """Parameter count per dtype in a .safetensors file, read from its JSON header (the Hub's `safetensors`).

    Empty for bytes that are not a safetensors file (the Hub then reports no parameters).
    """
    try:
        (header_len,) = struct.unpack("<Q", content[:8])
        header = json.loads(content[8 : 8 + header_len])
    except (struct.error, ValueError):
        return {}
    counts: dict[str, int] = {}
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        n = 1
        for dim in tensor["shape"]:
            n *= dim
        counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + n
    return counts


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` as {relative posix path: bytes}: a local model to serve as a repo."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Commit:
    sha: str
    files: Mapping[str, bytes]
    message: str
    parent: str | None
    date: datetime


class HubRepo:
    """A model repository: a chain of commits, `main` and other branches that move, tags that do not.

    `repo.commit(files)` records a new commit holding exactly `files` (the whole tree, not a delta;
    use `{**repo.files(), "config.json": b"..."}` to change one file) and moves the branch to it.
    Commit ids are deterministic: the same history gives the same 40-hex shas in every run.
    """

    def __init__(self, repo_id: str, *, private: bool = False, gated: bool | str = False) -> None:
        self.repo_id = repo_id
        self.private = private
        self.gated: str | bool = "manual" if gated is True else gated  # the Hub says "auto" or "manual"
        self.tokens: set[str] = set()  # bearer tokens allowed to read a private or gated repo
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def commit(self, files: Mapping[str, bytes], message: str = "Upload files", branch: str = "main") -> str:
        """Record a commit of `files` (filename -> bytes) on `branch` (created if new); return its sha."""
        parent = self.branches.get(branch)
        digest = hashlib.sha1()
        digest.update(f"parent {parent}\nmessage {message}\n".encode())
        for name in sorted(files):
            digest.update(f"{etag(name, files[name])} {name}\n".encode())
        sha = digest.hexdigest()
        date = _EPOCH + timedelta(hours=len(self.commits))
        self.commits[sha] = Commit(sha, dict(files), message, parent, date)
        self.branches[branch] = sha
        return sha

    def tag(self, name: str, revision: str = "main") -> str:
        """Point tag `name` at `revision`; return the commit sha."""
        sha = self.resolve(revision)
        if sha is None:
            raise KeyError(f"{self.repo_id}: no revision {revision!r}")
        self.tags[name] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        """The commit sha of a branch, tag or full commit id; None if there is none."""
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if revision.startswith(prefix) and revision[len(prefix) :] in refs:
                return refs[revision[len(prefix) :]]
        return revision if revision in self.commits else None

    @property
    def sha(self) -> str:
        """The commit `main` points at."""
        return self.branches["main"]

    def files(self, revision: str = "main") -> dict[str, bytes]:
        """The tree at `revision` (a copy)."""
        sha = self.resolve(revision)
        if sha is None:
            raise KeyError(f"{self.repo_id}: no revision {revision!r}")
        return dict(self.commits[sha].files)

    def allows(self, token: str | None) -> bool:
        return token is not None and token in self.tokens
