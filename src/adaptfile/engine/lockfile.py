"""adapt.lock: deterministic JSON of what a build resolved — committed, diffed, checked by --frozen."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptfile import __version__
from adaptfile.errors import ConfigError

LOCK_SCHEMA = 1


@dataclass(frozen=True)
class LockMeta:
    """Build-wide facts the lock pins besides the steps: strategies and the base model."""

    strategies: tuple[str, ...] = ()
    model: dict[str, str] = field(default_factory=dict)  # {"base", "revision", "commit" (hub models)}
    embedder: dict[str, str] = field(default_factory=dict)  # {"name", "revision", "commit"}: a hub embedder


def step_record(parts: dict[str, Any], key: str, deps: tuple[str, ...], outputs: dict[str, str]) -> dict:
    """One step's entry in adapt.lock."""
    return {
        "kind": parts["kind"],
        "kind_version": parts["kind_version"],
        "key": key,
        "deps": sorted(deps),
        "params": parts["params"],
        "inputs": parts["inputs"],
        "packages": parts["packages"],
        "outputs": outputs,
    }


def lock_document(meta: LockMeta, steps: dict[str, dict]) -> dict[str, Any]:
    return {
        "schema": LOCK_SCHEMA,
        "tool": {"name": "adaptfile", "version": __version__},
        "strategies": sorted(meta.strategies),
        "model": dict(meta.model),
        **({"embed_model": dict(meta.embedder)} if meta.embedder else {}),
        "steps": steps,
    }


def render_lock(document: dict[str, Any]) -> bytes:
    """The exact bytes of adapt.lock: sorted keys, two-space indent, no timestamps."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_lock(path: Path) -> dict[str, Any] | None:
    """The parsed lock, or None when there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise ConfigError(
            f"{path}: not valid JSON ({err})",
            hint="restore it from version control, or delete it and run `adapt build` to write a new one",
        ) from None
    schema = document.get("schema") if isinstance(document, dict) else None
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > LOCK_SCHEMA:
        raise ConfigError(
            f"{path}: lock schema {schema} is newer than this adaptfile understands ({LOCK_SCHEMA})",
            hint="upgrade adaptfile to the version that wrote it, or delete adapt.lock and run "
            "`adapt build` to write a new one",
        )
    if schema != LOCK_SCHEMA:
        raise ConfigError(
            f"{path}: lock schema {schema if schema is not None else '?'} is not {LOCK_SCHEMA}",
            hint="delete adapt.lock and run `adapt build` with this version of adaptfile",
        )
    steps = document.get("steps", {})
    bad = (
        "steps: expected an object of step records"
        if not isinstance(steps, dict)
        else next(
            (f"steps.{n}: expected an object" for n, r in steps.items() if not isinstance(r, dict)), None
        )
    )
    if bad:
        raise ConfigError(
            f"{path}: malformed lock ({bad})",
            hint="restore it from version control, or delete it and run `adapt build` to write a new one",
        )
    return document


def write_lock(path: Path, data: bytes) -> bool:
    """Atomically replace adapt.lock when its bytes change; True when it was written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # e.g. the disk is full: the old lock stays as it was
        raise
    return True
