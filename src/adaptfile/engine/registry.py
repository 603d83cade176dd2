"""Step kinds by name: built-ins, in-process registrations and the `adaptfile.steps` entry points."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any

from adaptfile.engine.errors import UnknownStepKind
from adaptfile.engine.protocol import StepKind

ENTRY_POINT_GROUP = "adaptfile.steps"

# Built-in kinds: name → "module:attribute", imported only when a plan uses the kind.
# Later issues fill this in (knowledge.load, rag.index, lora.train, ...); the engine knows no ML.
BUILTIN_KINDS: dict[str, str] = {
    "model.import": "adaptfile.steps.model_import:kind",
    "knowledge.load": "adaptfile.steps.knowledge_load:kind",
    "knowledge.chunk": "adaptfile.steps.knowledge_chunk:kind",
    "rag.index": "adaptfile.steps.rag_index:kind",
    "rag.train_context": "adaptfile.steps.rag_train_context:kind",
    "rag.embedder": "adaptfile.steps.rag_embedder:kind",
    "examples.load": "adaptfile.steps.examples_load:kind",
    "icl.shots": "adaptfile.steps.icl_shots:kind",
    "prompt.render": "adaptfile.steps.prompt_render:kind",
    "pretrain.tokenizer": "adaptfile.steps.pretrain_tokenizer:kind",
    "pretrain.train": "adaptfile.steps.train_models:PRETRAIN_TRAIN",
    "cpt.train": "adaptfile.steps.train_models:CPT_TRAIN",
    "lora.train": "adaptfile.steps.train_models:LORA_TRAIN",
    "qlora.train": "adaptfile.steps.train_models:QLORA_TRAIN",
    "prefix.train": "adaptfile.steps.train_models:PREFIX_TRAIN",
    "full.train": "adaptfile.steps.train_models:FULL_TRAIN",
    "eval.variant": "adaptfile.steps.eval_variant:kind",
    "eval.report": "adaptfile.steps.eval_report:kind",
}

_registered: dict[str, StepKind] = {}
_loaded: dict[str, StepKind] = {}


def register(kind: StepKind, name: str | None = None) -> None:
    """Make a kind available in this process (tests, embedding applications)."""
    _registered[name or kind.name] = kind


def unregister(name: str) -> None:
    _registered.pop(name, None)
    _loaded.pop(name, None)


def resolve(name: str, step_id: str | None = None) -> StepKind:
    """The kind called `name`; raises UnknownStepKind (exit 3) naming the step when none exists."""
    if name in _registered:
        return _registered[name]
    if name in _loaded:
        return _loaded[name]
    target = BUILTIN_KINDS.get(name) or _entry_point_target(name)
    if target is None:
        where = f"step '{step_id}' uses " if step_id else ""
        raise UnknownStepKind(
            f"{where}step kind '{name}', which has no implementation",
            hint=f"install the package that provides it (entry-point group '{ENTRY_POINT_GROUP}') "
            "or upgrade adaptfile; `adapt plan` shows which steps the plan needs",
        )
    kind = _instantiate(_load(target, name, step_id))
    _loaded[name] = kind
    return kind


def resolve_all(specs: Iterable[Any]) -> dict[str, StepKind]:
    """Resolve every spec's kind before anything runs; returns step id → kind."""
    return {spec.id: resolve(spec.kind, spec.id) for spec in specs}


def _entry_point_target(name: str) -> str | None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.value
    return None


def _load(target: str, name: str, step_id: str | None) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        obj: Any = import_module(module_name)
        for part in filter(None, attribute.split(".")):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise UnknownStepKind(
            f"step '{step_id or name}': cannot load kind '{name}' from {target}: {err}",
            hint="reinstall the package that provides this step kind",
        ) from None
    return obj


def _instantiate(obj: Any) -> StepKind:
    return obj() if isinstance(obj, type) else obj
