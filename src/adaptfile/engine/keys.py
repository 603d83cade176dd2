"""Step keys: sha256 over canonical JSON of what a step's output depends on, and nothing else."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} into a step key: {value!r}")


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8, no NaN."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    )
    return text.encode("utf-8")


def digest_of(value: Any) -> str:
    """sha256 hex of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def key_parts(
    kind: str,
    kind_version: str,
    params: dict[str, Any],
    inputs: dict[str, str],
    upstream: dict[str, dict[str, str]],
    packages: dict[str, str],
) -> dict[str, Any]:
    """Everything a step key covers, as DESIGN.md lists it; paths are project-relative."""
    return {
        "kind": kind,
        "kind_version": str(kind_version),
        "params": params,
        "inputs": inputs,
        "upstream": upstream,
        "packages": packages,
    }


def step_key(parts: dict[str, Any]) -> str:
    """The content address of a step's outputs."""
    return digest_of(parts)
