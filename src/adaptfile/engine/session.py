"""Everything one build or status run reads up front: steps, kinds, inputs, records, the lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptfile.engine.dag import select
from adaptfile.engine.freshness import parts_from_lock
from adaptfile.engine.inputs import expand_inputs
from adaptfile.engine.keys import canonical_json, key_parts
from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import LockMeta, read_lock
from adaptfile.engine.protocol import StepKind
from adaptfile.engine.registry import resolve_all
from adaptfile.engine.state import State
from adaptfile.engine.store import Store
from adaptfile.globwalk import GlobWalk

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


@dataclass
class Session:
    """The selected steps in order with their kinds, input digests and previous records."""

    layout: Layout
    plan: list[StepSpec]  # every step of the plan (the lock and manifest cover them all)
    steps: list[StepSpec]  # the selected steps, in dependency order
    kinds: dict[str, StepKind]
    meta: LockMeta
    state: State
    store: Store
    lock: dict[str, Any] | None
    records: dict[str, tuple[str, dict[str, Any]]]  # step id → (key, parts) of its last build here
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id → {name: digest}
    input_files: dict[str, dict[str, str]] = field(default_factory=dict)  # step id → {name: path}
    packages: dict[str, str] = field(default_factory=dict)

    @property
    def lock_steps(self) -> dict[str, dict[str, Any]]:
        return (self.lock or {}).get("steps", {})

    def previous(self, step_id: str) -> tuple[str | None, dict[str, Any] | None]:
        """The key and key parts this step last had: this machine's record, else adapt.lock's."""
        if step_id in self.records:
            return self.records[step_id]
        record = self.lock_steps.get(step_id)
        if record is None:
            return None, None
        return record.get("key"), parts_from_lock(step_id, self.lock_steps)

    def parts(self, spec: StepSpec, upstream: dict[str, dict[str, str]]) -> dict[str, Any]:
        """The key parts of a step given its upstream outputs."""
        kind = self.kinds[spec.id]
        wanted = kind.params
        params = (
            dict(spec.params) if wanted is None else {k: v for k, v in spec.params.items() if k in wanted}
        )
        params = json.loads(canonical_json(params))  # tuples → lists: as JSON stores and compares them
        versions = {name: self.packages[name] for name in kind.packages}
        return key_parts(kind.name, kind.version, params, self.inputs[spec.id], upstream, versions)

    def close(self) -> None:
        self.state.close()


def open_session(
    layout: Layout, specs: Sequence[StepSpec], meta: LockMeta, targets: Sequence[str] = ()
) -> Session:
    """Resolve kinds (exit 3 on an unknown one) and digest inputs, hashing only changed files."""
    steps = select(specs, targets)
    kinds = resolve_all(steps)
    state = State(layout.state)
    session = Session(
        layout=layout,
        plan=list(specs),
        steps=steps,
        kinds=kinds,
        meta=meta,
        state=state,
        store=Store(layout),
        lock=read_lock(layout.lockfile),
        records=state.step_records(),
    )
    walk = GlobWalk(str(layout.root))
    files = {spec.id: expand_inputs(layout.root, spec.inputs, spec.id, walk) for spec in steps}
    everything = sorted({path for named in files.values() for path in named.values()})
    digests = state.digests(layout.root, everything)
    state.flush()
    for step_id, named in files.items():
        session.input_files[step_id] = {n: p for n, p in named.items() if p in digests}
        session.inputs[step_id] = {n: digests[p] for n, p in named.items() if p in digests}
    session.packages = package_versions({p for kind in kinds.values() for p in kind.packages})
    return session


def package_versions(names: set[str]) -> dict[str, str]:
    """Installed versions of the named distributions ("not installed" when absent)."""
    if not names:
        return {}
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in sorted(names):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
