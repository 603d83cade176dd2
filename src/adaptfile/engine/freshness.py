"""Why a step is stale: a readable reason for every difference between two sets of key parts."""

from __future__ import annotations

import json
from typing import Any

MAX_FILE_REASONS = 10
UNSET = "(unset)"


def _shown(value: Any, width: int = 60) -> str:
    text = str(value) if value is UNSET or isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def explain(
    previous: dict[str, Any] | None, current: dict[str, Any], pending: tuple[str, ...] = ()
) -> list[str]:
    """Reasons `current` differs from `previous` (None: never built); `pending` are upstream steps
    that must rerun before this step's key is known."""
    if previous is None:
        return ["not built"]
    reasons: list[str] = []
    if previous.get("kind") != current["kind"]:
        reasons.append(f"kind changed: {previous.get('kind')}→{current['kind']}")
    elif previous.get("kind_version") != current["kind_version"]:
        reasons.append(
            f"tool version changed: {current['kind']} v{previous.get('kind_version')}→v{current['kind_version']}"
        )
    reasons += _changed("tool version changed", previous.get("packages", {}), current["packages"])
    reasons += _changed("params changed", previous.get("params", {}), current["params"])
    reasons += _file_reasons(previous.get("inputs", {}), current["inputs"])
    before, now = previous.get("upstream", {}), current["upstream"]
    for dep in sorted(set(before) | set(now) | set(pending)):
        if dep in pending:
            reasons.append(f"upstream stale: {dep}")
        elif before.get(dep) != now.get(dep):
            reasons.append(f"upstream changed: {dep}")
    return reasons


def _changed(label: str, before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    reasons = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name, UNSET), now.get(name, UNSET)
        if isinstance(old, dict) and isinstance(new, dict):  # name the leaf that changed, not the table
            reasons += _changed(label, {f"{name}.{k}": v for k, v in old.items()},
                                {f"{name}.{k}": v for k, v in new.items()})  # fmt: skip
        elif old != new or type(old) is not type(new):
            reasons.append(f"{label}: {name} {_shown(old)}→{_shown(new)}")
    return reasons


def _file_reasons(before: dict[str, str], now: dict[str, str]) -> list[str]:
    reasons = []
    for path in sorted(set(before) | set(now)):
        if path not in before:
            reasons.append(f"input added: {path}")
        elif path not in now:
            reasons.append(f"input removed: {path}")
        elif before[path] != now[path]:
            reasons.append(f"input modified: {path}")
    if len(reasons) > MAX_FILE_REASONS:
        extra = len(reasons) - MAX_FILE_REASONS
        reasons = [*reasons[:MAX_FILE_REASONS], f"… and {extra} more input changes"]
    return reasons


def parts_from_lock(step_id: str, lock_steps: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Rebuild a step's key parts from adapt.lock (when this machine has no build record)."""
    record = lock_steps.get(step_id)
    if record is None:
        return None
    upstream = {dep: lock_steps.get(dep, {}).get("outputs", {}) for dep in record.get("deps", [])}
    return {
        "kind": record.get("kind"),
        "kind_version": record.get("kind_version"),
        "params": record.get("params", {}),
        "inputs": record.get("inputs", {}),
        "upstream": upstream,
        "packages": record.get("packages", {}),
    }
