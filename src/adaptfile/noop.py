"""The no-op fast path of `adapt build`: a stamp of everything a no-op build saw, checked with stat alone.

When `adapt build` finds every step fresh, it writes .adapt/noop-stamp.json: a digest of the stat of every
file and directory under the project (and under inputs outside it or in hidden directories), of adaptfile's own code, of the
Python environment, of the command line and of the environment variables, with the output it printed.
The next identical `adapt build` recomputes the digest (os.scandir and os.stat only, no planner, no
pydantic, no click) and, when it matches, prints that output again and exits 0. Anything else, a file
edited, added or removed, a package installed, another flag, falls back to the full build, which writes
a new stamp when it again ran nothing.

Hand-written because the full no-op (config validation, planning, keys from the stat cache) costs about
half a second before it knows that nothing changed; make and dvc compare stats too, but of their own
dependency lists, which adapt only knows after planning.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

STAMP = os.path.join(".adapt", "noop-stamp.json")
FORMAT = 1
# a file changed within the file system's timestamp granularity of the stamp could keep its mtime:
# entries younger than this when the stamp is written make it untrustworthy (FAT and HFS+ round to 1-2 s)
RACY_NS = 2_000_000_000
VOLATILE_ENV = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})  # differ between shells, change nothing
GLOBAL_FLAGS = frozenset({"--debug"})


def project_root(argv: Sequence[str]) -> str | None:
    """The project directory a `build` command line names (-C DIR, --file PATH or the current
    directory), or None when it is not a build or has global options this parse does not know."""
    directory = file = None
    args = list(argv)
    while args and args[0] != "build":
        arg = args.pop(0)
        if arg in ("-C", "--file") and args:
            value = args.pop(0)
            directory, file = (value, file) if arg == "-C" else (directory, value)
        elif arg not in GLOBAL_FLAGS:
            return None
    if not args:
        return None
    if file is not None:
        return os.path.dirname(os.path.realpath(file))
    return os.path.realpath(directory or os.curdir)


def replay(argv: Sequence[str]) -> bool:
    """Print the recorded output of the last no-op build with this command line and return True, when
    nothing it saw has changed since; False (having printed nothing) otherwise."""
    root = project_root(argv)
    if root is None:
        return False
    try:
        with open(os.path.join(root, STAMP), encoding="utf-8") as handle:
            stamp = json.load(handle)
        if stamp.get("format") != FORMAT or digest(argv, root, stamp["extra"]) != stamp["digest"]:
            return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for stream, text in stamp["output"]:
        target = sys.stderr if stream == "err" else sys.stdout
        target.write(text)
        target.flush()
    return True


def record(argv: Sequence[str], root: str, extra: Sequence[str], output: Sequence[tuple[str, str]]) -> bool:
    """Write the stamp after a build that ran nothing (False, and no stamp, when an entry is too recent
    to be trusted, the next no-op writes it, or when it cannot be written)."""
    path = os.path.join(root, STAMP)
    started = time.time_ns()
    try:
        value = digest(argv, root, extra, racy_after=started - RACY_NS)
    except _Racy:
        _remove(path)
        return False
    stamp = {"format": FORMAT, "digest": value, "extra": list(extra), "output": [list(c) for c in output]}
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(stamp, handle)
        os.replace(temporary, path)
    except OSError:  # the build itself succeeded: without a stamp the next no-op just plans in full
        _remove(temporary)
        return False
    return True


def unwalked(root: str, directories: Sequence[str]) -> list[str]:
    """Those of the input `directories` that the project walk does not cover: outside the project, or
    inside one of its hidden directories."""
    inside = root.rstrip(os.sep) + os.sep

    def walked(directory: str) -> bool:
        below = os.path.relpath(directory, root).split(os.sep)
        return (directory + os.sep).startswith(inside) and not any(
            p.startswith(".") for p in below if p != "."
        )

    return sorted(d for d in directories if not walked(d))


def forget(root: str) -> None:
    """Remove the stamp: the next build plans in full."""
    _remove(os.path.join(root, STAMP))


def digest(argv: Sequence[str], root: str, extra: Sequence[str], racy_after: int | None = None) -> str:
    """One hash of the command line, environment, code and the stat of every entry the build could read."""
    hasher = hashlib.blake2b(digest_size=20)
    env = sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)
    context = [argv, os.getcwd(), sys.executable, sys.version, env, sys.stdout.isatty(), sys.stderr.isatty()]
    hasher.update(json.dumps(context, default=list).encode())
    import adaptfile

    trees = [root, *extra, os.path.dirname(os.path.abspath(adaptfile.__file__))]
    for path, st in [*_stats(p for p in sys.path if p), *(e for tree in trees for e in _walk(tree))]:
        if racy_after is not None and st is not None and st.st_mtime_ns >= racy_after:
            raise _Racy(path)
        stat = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) if st else None
        hasher.update(f"{path}\0{stat}\n".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


class _Racy(Exception):
    """An entry changed too recently for its stat to prove it unchanged later."""


def _stats(paths: Iterator[str]) -> Iterator[tuple[str, os.stat_result | None]]:
    for path in paths:
        try:
            yield path, os.stat(path)
        except OSError:
            yield path, None


def _walk(top: str) -> Iterator[tuple[str, os.stat_result | None]]:
    """Every file under `top` (or `top` itself, a file) with its stat, and every directory by its name
    alone (its entries are listed; its own mtime would also move for what the walk skips): into linked
    directories too, each once, in a fixed order; not into hidden directories (.adapt, .git, .dvc: a
    glob's wildcards skip them; a pattern that names one has it walked on its own, see `unwalked`),
    bytecode caches or virtual environments."""
    if not os.path.isdir(top):
        yield from _stats(iter([top]))
        return
    pending, seen = [top], set()
    while pending:
        directory = pending.pop()
        yield directory + os.sep, None
        try:
            st = os.stat(directory)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            yield directory + os.sep + "?", None
            continue
        for entry in entries:
            try:
                if entry.is_dir():
                    if entry.name[0] != "." and entry.name != "__pycache__" and not _is_venv(entry.path):
                        pending.append(entry.path)
                    continue
                yield entry.path, entry.stat()
            except OSError:
                yield entry.path, None


def _is_venv(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "pyvenv.cfg"))


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):  # gone already, or not ours to remove: a stale stamp never matches
        os.remove(path)


class Recorder(io.TextIOBase):
    """A text stream that writes through to another and keeps what was written, for the stamp's output."""

    def __init__(self, stream: TextIO, name: str, chunks: list[tuple[str, str]]) -> None:
        self.stream = stream
        self.name = name
        self.chunks = chunks

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.chunks.append((self.name, text))
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors
