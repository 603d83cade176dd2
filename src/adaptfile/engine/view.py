"""build/: the current outputs under step ids, and build/manifest.json that other tools read."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from adaptfile.engine.layout import Layout
from adaptfile.engine.store import Entry

MANIFEST_SCHEMA = 1
USE_SYMLINKS = True  # falls back to copies where the filesystem refuses symlinks


def read_manifest(layout: Layout) -> dict[str, Any]:
    try:
        with open(layout.manifest, "rb") as handle:
            manifest = json.load(handle)
        return manifest if manifest.get("schema") == MANIFEST_SCHEMA else {}
    except (OSError, ValueError, AttributeError):
        return {}


def manifest_record(layout: Layout, step_id: str, kind: str, entry: Entry) -> dict[str, Any]:
    base = layout.relative(layout.build / step_id)
    volatile = entry.meta.get("volatile", {})
    outputs = {
        name: {"path": f"{base}/{name}", **({"volatile": True} if name in volatile else {"digest": d})}
        for name, d in entry.outputs.items()
    }
    return {"kind": kind, "key": entry.key, "outputs": outputs}


def present(
    layout: Layout,
    records: dict[str, dict[str, Any]],
    entries: dict[str, Entry],
    extra: dict[str, Any] | None = None,
) -> bool:
    """Make build/ show `records` (step id → manifest record); `entries` are this build's entries.
    `extra`: the caller's own top-level manifest keys (None keeps the previous ones).
    Returns True when anything changed."""
    previous = read_manifest(layout)
    old = previous.get("steps", {})
    if extra is None:
        extra = {k: v for k, v in previous.items() if k not in ("schema", "steps")}
    changed = False
    layout.build.mkdir(parents=True, exist_ok=True)
    for step_id, entry in entries.items():
        changed |= _place(layout, step_id, entry, old.get(step_id, {}).get("key"))
    for step_id in set(old) - set(records):
        _remove(layout.build / step_id)
        changed = True
    manifest = {**extra, "schema": MANIFEST_SCHEMA, "steps": records}
    data = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    try:
        same = layout.manifest.read_bytes() == data
    except FileNotFoundError:
        same = False
    if not same:
        temporary = layout.build / f".manifest.{os.getpid()}.tmp"
        try:
            temporary.write_bytes(data)
            os.replace(temporary, layout.manifest)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        changed = True
    return changed


def _place(layout: Layout, step_id: str, entry: Entry, shown_key: str | None) -> bool:
    link = layout.build / step_id
    target = os.path.relpath(entry.out, layout.build)
    if link.is_symlink():
        if os.readlink(link) == target and USE_SYMLINKS:
            return False
    elif link.is_dir() and shown_key == entry.key:
        return False
    _remove(link)
    if USE_SYMLINKS:
        try:
            os.symlink(target, link, target_is_directory=True)
            return True
        except OSError:
            pass
    temporary = layout.build / f".{step_id}.{os.getpid()}.tmp"
    _remove(temporary)
    shutil.copytree(entry.out, temporary)
    os.replace(temporary, link)
    return True


def _remove(path: os.PathLike[str]) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def clear(layout: Layout) -> int:
    """Remove build/ entirely; returns the bytes its copies used (links count nothing)."""
    from adaptfile.engine.store import disk_usage

    if not layout.build.exists():
        return 0
    used = disk_usage(layout.build)
    shutil.rmtree(layout.build)
    return used
