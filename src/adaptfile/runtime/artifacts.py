"""Which files make up a variant: manifest records for build/manifest.json, and resolving them to paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptfile.errors import NotBuilt, UsageError

# later ones are what earlier ones trained on; model.import: a GGUF base dequantized into a model directory
MODEL_STEPS = ("full.train", "cpt.train", "pretrain.train", "model.import")
ADAPTER_STEPS = ("lora.train", "qlora.train", "prefix.train")
SFT_STRATEGIES = ("lora", "qlora", "prefix", "full")  # trained on rendered prompts (train_prompts.jsonl)
PROMPT_FILES = ("system.txt", "template.j2", "shots.jsonl", "spares.jsonl", "prompt.json")
BUILD_FIRST = "run `adapt build` first"


@dataclass(frozen=True)
class VariantArtifacts:
    """Everything a runtime needs to serve one variant, as paths (or a hub id for the base model)."""

    name: str
    strategies: tuple[str, ...]
    model: str  # a local model directory or a hub id
    revision: str | None
    prompt: Path  # prompt.render output: system.txt, template.j2, shots.jsonl, prompt.json
    adapter: Path | None = None  # PEFT adapter directory
    index: Path | None = None  # rag.index persisted index directory
    shots_index: Path | None = None  # icl.shots index/, for shots chosen per question
    use_shots: bool = False
    trust_remote_code: bool = False
    top_k: int | None = None
    max_new_tokens: int | None = None


def variant_record(
    name: str,
    strategies: Sequence[str],
    steps: Sequence[str],
    model: dict[str, Any],
    where: Callable[[str], str],
) -> dict[str, Any]:
    """The manifest's description of a variant; `where(step_id)` names a step's output directory."""
    trained = [s for s in MODEL_STEPS if s in steps]
    adapter = next((s for s in ADAPTER_STEPS if s in steps), None)
    base = {"id": model.get("base"), "revision": model.get("commit") or model.get("revision")}
    if trained:
        base = {"id": f"{where(trained[0])}/model", "revision": None, "from_step": trained[0]}
    prompt = where("prompt.render")
    index = next((s for s in ("rag.index", "rag.index.base") if s in steps), None)  # .base: untuned embedder
    return {
        "strategies": list(strategies),
        "steps": list(steps),
        "model": {**base, "trust_remote_code": bool(model.get("trust_remote_code", False))},
        "adapter": f"{where(adapter)}/adapter" if adapter else None,
        "index": f"{where(index)}/index" if index else None,
        "prompt": {"dir": prompt, "files": [f"{prompt}/{f}" for f in PROMPT_FILES]},
        # a fine-tuned variant serves with the demonstrations it was trained with: none
        "shots": "icl" in strategies and not any(s in SFT_STRATEGIES for s in strategies),
        "shots_index": f"{where('icl.shots')}/index" if "icl.shots" in steps else None,
    }


def manifest_extra(plan: Any, model: dict[str, Any], locked: dict[str, str]) -> dict[str, Any]:
    """build/manifest.json's own keys: the variants, and the base model (its pinned commit, or the GGUF
    file it was imported from, whose gguf.json names the quantization)."""
    source = plan.model.get("source")
    base = {**locked, "source": source}
    if source == "gguf":
        base["gguf"] = "build/model.import/gguf.json"
        base["note"] = "trained and served: the dequantized weights in build/model.import/model/"
    return {"variants": manifest_variants(plan, {**model, **locked}), "base_model": base}


def manifest_variants(plan: Any, model: dict[str, Any]) -> dict[str, Any]:
    """build/manifest.json "variants": name → its artifacts (paths relative to the project root)."""
    settings = plan.settings
    top_k = settings.get("rag", {}).get("top_k")
    return {
        v.name: {
            **variant_record(v.name, v.strategies, v.steps, model, lambda s: f"build/{s}"),
            "top_k": top_k if {"rag.index", "rag.index.base"} & set(v.steps) else None,
            "max_new_tokens": settings.get("icl", {}).get("answer_tokens"),
            "rung": v.rung,
            "conditional": v.conditional,
            "eval": f"build/{v.eval_step}",
        }
        for v in plan.variants
    }


def resolve_record(
    name: str, record: dict[str, Any], root: Path, top_k: int | None = None
) -> VariantArtifacts:
    """A manifest record → paths under `root`; a local base model directory is resolved too."""
    model = record["model"]
    location = str(model["id"])
    if model.get("from_step") or (root / location).is_dir():
        location = str(root / location)

    def path(value: str | None) -> Path | None:
        return root / value if value else None

    artifacts = VariantArtifacts(
        name=name,
        strategies=tuple(record.get("strategies", ())),
        model=location,
        revision=model.get("revision"),
        prompt=root / record["prompt"]["dir"],
        adapter=path(record.get("adapter")),
        index=path(record.get("index")),
        shots_index=path(record.get("shots_index")),
        use_shots=bool(record.get("shots")),
        trust_remote_code=bool(model.get("trust_remote_code")),
        top_k=top_k or record.get("top_k"),
        max_new_tokens=record.get("max_new_tokens"),
    )
    missing = [p for p in (artifacts.prompt, artifacts.adapter, artifacts.index) if p and not p.exists()]
    if model.get("from_step") and not Path(location).is_dir():
        missing.append(Path(location))
    if missing:
        raise NotBuilt(
            f"variant {name!r} is not built: {missing[0]} is missing",
            hint=f"run `adapt build eval.{name}` (or `adapt build`)",
        )
    return artifacts


def from_upstream(params: dict[str, Any], upstream: dict[str, Path], root: Path) -> VariantArtifacts:
    """An eval step's view: its upstream step directories make up the variant."""
    steps = list(upstream)
    model = {k.removeprefix("model."): v for k, v in params.items() if k.startswith("model.")}
    record = variant_record(
        params["eval.variant"], params.get("eval.strategies", ()), steps, model, lambda s: str(upstream[s])
    )
    record["max_new_tokens"] = params.get("eval.max_new_tokens")
    return resolve_record(params["eval.variant"], record, root, params.get("rag.top_k"))


def read_build(root: Path) -> dict[str, Any]:
    """build/manifest.json, or NotBuilt saying to build first."""
    path = root / "build" / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotBuilt(f"no build at {path}", hint=BUILD_FIRST) from None
    if not manifest.get("variants"):
        raise NotBuilt(f"{path} lists no variants (built by an older adapt?)", hint=BUILD_FIRST)
    return manifest


def best_variant(root: Path, manifest: dict[str, Any]) -> str:
    """The report's best variant, else the most complete variant that is built."""
    try:
        report = json.loads((root / "build" / "report" / "report.json").read_text(encoding="utf-8"))
        if report.get("best") in manifest["variants"]:
            return str(report["best"])
    except (OSError, ValueError):
        pass
    built = [
        n for n, r in manifest["variants"].items() if all(s in manifest.get("steps", {}) for s in r["steps"])
    ]
    if not built:
        raise NotBuilt("no variant of this build is complete", hint=BUILD_FIRST)
    return built[-1]


def load_artifacts(root: Path, variant: str | None = None) -> VariantArtifacts:
    """The artifacts of `variant` (default: the best one) of the build under `root`."""

    manifest = read_build(root)
    name = variant or best_variant(root, manifest)
    if name not in manifest["variants"]:
        known = ", ".join(manifest["variants"])
        raise UsageError(f"--variant {name}: no such variant in this build", hint=f"variants: {known}")
    return resolve_record(name, manifest["variants"][name], root)
