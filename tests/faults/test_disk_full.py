"""A full disk while a build publishes: exit 1 with a message naming the step, the previous build/ and
adapt.lock untouched, no partial cache entry, and after space is freed `adapt build` completes.

The disk fills up in two ways: `enospc_driver.py` runs the real CLI in a subprocess with one write of
the publication patched to raise ENOSPC (the staged entry's rename into .adapt/cache, its meta.json,
adapt.lock's temporary file); and, where this process may mount one (root, no container veto), a real
tmpfs almost filled by a ballast file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from faults_support import ENV, Reference, adapt, build_tree, check_cache
from mini_project import run_adapt

DRIVER = Path(__file__).resolve().parent / "enospc_driver.py"


def _copy(reference: Reference, dest: Path) -> Path:
    shutil.copytree(reference.root, dest, symlinks=True)
    return dest


def _edit(root: Path, old: str, new: str, name: str = "adapt.toml") -> None:
    path = root / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _assert_reports_disk_full(done: subprocess.CompletedProcess[str], step: str) -> None:
    err = done.stderr
    assert done.returncode == 1, done.stdout + err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "no space left on device" in err, err
    assert step in err, err
    assert "hint: free disk space" in err and "adapt gc" in err, err


def _step_keys(root: Path, step: str) -> set[str]:
    """The keys of the cache entries of `step`."""
    metas = (json.loads(p.read_text()) for p in (root / ".adapt/cache").glob("*/*/meta.json"))
    return {meta["key"] for meta in metas if meta["step"] == step}


@pytest.mark.parametrize(
    ("mode", "step"),
    [
        ("rename", "lora.train"),  # in the escalation's second round, after the first one was recorded
        ("meta", "eval.load"),  # the first step this build runs
    ],
)
def test_enospc_at_publish_keeps_previous_build(
    reference: Reference, tmp_path: Path, mode: str, step: str
) -> None:
    root = _copy(reference, tmp_path / "project")
    if step == "eval.load":
        _edit(root, '"Two years."', '"2 years."', "data/eval.jsonl")
    else:
        _edit(root, "[lora]\nepochs = 20", "[lora]\nepochs = 19")
    before_tree, before_lock, before_keys = (
        build_tree(root),
        (root / "adapt.lock").read_bytes(),
        _step_keys(root, step),
    )

    done = subprocess.run(
        [sys.executable, str(DRIVER), mode, step, "-C", str(root), "build"],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    _assert_reports_disk_full(done, step)
    assert (root / "adapt.lock").read_bytes() == before_lock
    assert build_tree(root) == before_tree
    check_cache(root)  # no partial entry
    assert not list((root / ".adapt").glob("tmp/*")), "staging left behind"
    assert not list(root.glob(".adapt.lock.*")) and not list(root.glob("build/.*.tmp"))
    assert _step_keys(root, step) == before_keys, f"an entry of {step} was published"

    code, out, err = run_adapt(root, "build")  # space freed: the patch is gone
    assert code == 0, out + err
    assert (root / "adapt.lock").read_bytes() != before_lock
    assert step in (root / "adapt.lock").read_text()
    check_cache(root)


def test_enospc_writing_adapt_lock_keeps_the_old_lock(reference: Reference, tmp_path: Path) -> None:
    root = _copy(reference, tmp_path / "project")
    _edit(root, "[lora]\nepochs = 20", "[lora]\nepochs = 19")
    before_lock = (root / "adapt.lock").read_bytes()
    done = subprocess.run(
        [sys.executable, str(DRIVER), "lock", "-", "-C", str(root), "build"],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    _assert_reports_disk_full(done, "adapt.lock")
    assert (root / "adapt.lock").read_bytes() == before_lock
    assert not list(root.glob(".adapt.lock.*")), "half-written temporary lock left behind"
    check_cache(root)
    code, out, err = run_adapt(root, "build")
    assert code == 0, out + err
    assert (root / "adapt.lock").read_bytes() != before_lock


@pytest.fixture
def tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 4 MiB tmpfs mounted at tmp_path/disk, or a skip where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", f"adapt-{uuid.uuid4().hex[:8]}", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_real_full_tmpfs_keeps_previous_build(reference: Reference, tmpfs: Path) -> None:
    root = _copy(reference, tmpfs / "project")
    _edit(root, "[lora]\nepochs = 20", "[lora]\nepochs = 19")
    before_tree, before_lock = build_tree(root), (root / "adapt.lock").read_bytes()
    ballast = tmpfs / "ballast"
    free = shutil.disk_usage(tmpfs).free
    ballast.write_bytes(b"\0" * (free - 160 * 1024))  # lora.train needs more (weights, checkpoints)

    done = adapt(root, "build")
    _assert_reports_disk_full(done, "lora.train")
    assert (root / "adapt.lock").read_bytes() == before_lock
    assert build_tree(root) == before_tree
    check_cache(root)
    assert not list((root / ".adapt").glob("tmp/*")), "staging left behind"

    ballast.unlink()  # free space
    code, out, err = run_adapt(root, "build")
    assert code == 0, out + err
    assert (root / "adapt.lock").read_bytes() != before_lock
    check_cache(root)


def test_state_is_kept_when_sqlite_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk makes sqlite fail to open .adapt/state ("disk I/O error"): that is not corruption,
    so the stat cache, step records and build history must not be deleted."""
    import sqlite3

    from adaptfile.engine.state import State

    path = tmp_path / "state"
    State(path).close()
    size = path.stat().st_size

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite3, "connect", full)
    with pytest.raises(sqlite3.OperationalError):
        State(path)
    assert path.stat().st_size == size


def test_is_disk_full_sees_wrapped_errors(tmp_path: Path) -> None:
    import errno

    from adaptfile.engine.errors import DiskFull, is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as err:
            raise RuntimeError("file write failed") from err
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"), tmp_path)  # tmp has room
    assert not is_disk_full(DiskFull("no space left on device"))  # already explained
