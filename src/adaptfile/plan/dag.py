"""The step DAG of a plan: each step with its deps, the config fields it reads, and its input files."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adaptfile.config.model import AdaptConfig
from adaptfile.plan.gguf_model import IMPORT_STEP, import_step
from adaptfile.plan.model import StepSpec, StrategyDecision, Variant
from adaptfile.plan.model_info import EmbedderRef, ModelInfo

TRAINERS = ("lora", "qlora", "prefix", "full")
VARIANT_TRAINING = ("lora", "qlora", "prefix", "full", "cpt")  # each adds one variant on top of the prompt
REPORT_STEP = "report"
TUNED_RAG = "(tuned)"  # the variant suffix of retrieval with the domain-tuned embedder: "icl+rag(tuned)"
BASE_INDEX = "rag.index.base"  # with a tuned embedder, the index of the untuned one (the rung below it)
# what a tokenizer and chat template are made of, in a local model directory
TOKENIZER_FILES = ("tokenizer*", "special_tokens_map*", "chat_template*", "vocab*", "merges*", "*.model",
                   "*config.json")  # fmt: skip  # build/report/: report.json, report.md, the goal chart
_SETTING_KEYS = ("epochs", "learning_rate", "batch_size", "grad_accum", "gradient_checkpointing", "precision",
                 "max_seq_len", "packing", "save_every", "heldout")  # fmt: skip
_METHOD_KEYS = {
    "lora": ("r", "alpha", "dropout", "targets", "merge"),
    "qlora": ("r", "alpha", "dropout", "targets", "merge", "bits"),
    "prefix": ("virtual_tokens",),
}


def build_steps(
    config: AdaptConfig,
    model: ModelInfo,
    chosen: list[str],
    settings: dict[str, Any],
    knowledge_in_prompt: bool,
    embedder: EmbedderRef | None = None,
) -> tuple[StepSpec, ...]:
    """Only the steps the chosen strategies need, in an order where every dep comes first."""
    steps: list[StepSpec] = []
    embedder = embedder or EmbedderRef(config.rag.embed_model)
    data = config.data
    trainers = [m for m in TRAINERS if m in chosen]
    pretrain_corpus = None
    if "pretrain" in chosen:
        pretrain_corpus = "knowledge.load" if data.knowledge else "examples.load"
    uses_knowledge = data.knowledge is not None and (
        "rag" in chosen or knowledge_in_prompt or "cpt" in chosen or pretrain_corpus == "knowledge.load"
    )
    shots = settings.get("icl", {}).get("shots", 0) if "icl" in chosen and data.examples else 0
    labels_for_eval = config.project.task == "classify" and data.eval is not None  # the label set
    tuned = "rag" in chosen and "embedder" in chosen
    uses_examples = data.examples is not None and (
        shots > 0 or trainers or pretrain_corpus == "examples.load" or labels_for_eval or tuned
    )

    if uses_knowledge and data.knowledge:
        k = data.knowledge
        params = {"data.knowledge.paths": list(k.paths), "data.knowledge.text_field": k.text_field}
        steps.append(StepSpec("knowledge.load", "knowledge.load", (), params, tuple(k.paths)))
    if "rag" in chosen:
        rag = settings["rag"]
        chunk = {
            "rag.chunk_size": rag["chunk_size"],
            "rag.chunk_overlap": rag["chunk_overlap"],
            **embedder.params(),  # chunks are measured in the embedder's tokens
        }
        steps.append(
            StepSpec("knowledge.chunk", "knowledge.chunk", ("knowledge.load",), chunk, embedder.inputs())
        )
        index = {
            **embedder.params(),
            "rag.store": rag["store"],
            "rag.retriever": rag["retriever"],
            "rag.top_k": rag["top_k"],
            "rag.window": rag["window"],
        }
        if rag.get("url"):  # a Qdrant server: its collection is named after the project and this key
            index |= {"rag.url": rag["url"], "project.name": config.project.name}
        index_spec = StepSpec("rag.index", "rag.index", ("knowledge.chunk",), index, embedder.inputs())
        if not tuned:
            steps.append(index_spec)
        elif config.goal is not None or data.eval is not None:  # measured against the tuned one
            steps.append(replace(index_spec, id=BASE_INDEX))
    if uses_examples and data.examples:
        params = {"data.examples.path": data.examples.path, "data.examples.format": data.examples.format}
        steps.append(StepSpec("examples.load", "examples.load", (), params, (data.examples.path,)))
    if data.eval:
        params = {"data.eval.path": data.eval.path, "data.eval.format": data.eval.format}
        steps.append(StepSpec("eval.load", "examples.load", (), params, (data.eval.path,)))
    if tuned:  # "rag.index" is what `adapt ask` and serving read: with the tuned embedder
        tune = {f"rag.tune.{key}": value for key, value in settings["rag"]["tune"].items()}
        params = {**embedder.params(), **tune, "project.seed": config.project.seed}
        deps = ("knowledge.chunk", "examples.load")
        steps.append(StepSpec("rag.embedder", "rag.embedder", deps, params, embedder.inputs()))
        steps.append(replace(index_spec, deps=("knowledge.chunk", "rag.embedder")))
    if shots > 0:
        params = {
            "icl.shots": shots,
            "icl.selection": config.icl.selection,
            "project.seed": config.project.seed,
        }
        inputs: tuple[str, ...] = ()
        if config.icl.selection in ("similar", "diverse"):  # both rank examples by their embeddings
            params.update(embedder.params())
            inputs = embedder.inputs()
        steps.append(StepSpec("icl.shots", "icl.shots", ("examples.load",), params, inputs))

    base_model = _model_params(config, model)
    imported = import_step(config.model) if model.source == "gguf" else None
    if imported:  # every step that reads the model reads the imported directory
        steps.insert(0, imported)
    model_dep: tuple[str, ...] = (IMPORT_STEP,) if imported else ()
    hardware = {
        "hardware.train.device": config.hardware.train.device,
        "hardware.train.count": config.hardware.train.count,
        "hardware.train.nodes": config.hardware.train.nodes,
    }
    model_inputs = (f"{model.local_dir}/**",) if model.local_dir else ()
    templates = (config.icl.template,) if config.icl.template else ("templates/*.j2",)
    upstream: tuple[str, ...] = ()
    if pretrain_corpus:
        s = config.model.scratch
        tok = {"model.scratch.vocab_size": s.vocab_size, "project.seed": config.project.seed}
        steps.append(StepSpec("pretrain.tokenizer", "pretrain.tokenizer", (pretrain_corpus,), tok))
        arch = {f"model.scratch.{key}": value for key, value in s.model_dump().items()}
        params = {
            **arch,
            **_train_params("pretrain", settings),
            **hardware,
            "project.seed": config.project.seed,
        }
        steps.append(
            StepSpec("pretrain.train", "pretrain.train", ("pretrain.tokenizer", pretrain_corpus), params)
        )
        upstream = ("pretrain.train",)
    if "cpt" in chosen:
        params = {
            **base_model,
            **_train_params("cpt", settings),
            **hardware,
            "project.seed": config.project.seed,
        }
        deps = ("knowledge.load", *model_dep, *upstream)
        steps.append(StepSpec("cpt.train", "cpt.train", deps, params, model_inputs))
        upstream = ("cpt.train",)
    retrieved: tuple[str, ...] = ()
    if trainers and "rag" in chosen and data.examples:  # RAG variants train on what the index retrieves
        params = {"rag.top_k": settings["rag"]["top_k"]}
        steps.append(
            StepSpec("rag.train_context", "rag.train_context", ("rag.index", "examples.load"), params)
        )
        retrieved = ("rag.train_context",)
    for method in trainers:
        params = {
            **base_model,
            **hardware,
            "project.task": config.project.task,
            "project.instruction": config.project.instruction,
            "project.seed": config.project.seed,
            # training text is the serving prompt: same template, budget and (for RAG) retrieved passages
            "icl.template": config.icl.template,
            "model.context": model.context,
            "constraints.max_prompt_tokens": config.constraints.max_prompt_tokens,
            "prompt.answer_tokens": settings["icl"]["answer_tokens"],
            **_train_params(method, settings),
        }
        # never eval.load (the eval set retrains nothing), never icl.shots (fine-tuned variants have none)
        deps = ("examples.load", *model_dep, *upstream, *retrieved)
        inputs = (*model_inputs, *templates)
        steps.append(StepSpec(f"{method}.train", f"{method}.train", deps, params, inputs))

    render_deps: tuple[str, ...] = (*model_dep, *(d for d in ("icl.shots",) if shots > 0))
    if knowledge_in_prompt and "icl" in chosen:
        render_deps = ("knowledge.load", *render_deps)
    if data.eval:
        render_deps += ("eval.load",)  # the longest eval question must fit the budget
    if pretrain_corpus:
        render_deps += ("pretrain.tokenizer",)  # token counts in the scratch model's own tokenizer
    render = {
        **base_model,
        "model.context": model.context,
        "project.task": config.project.task,
        "project.instruction": config.project.instruction,
        "icl.template": config.icl.template,
        "constraints.max_prompt_tokens": config.constraints.max_prompt_tokens,
        "prompt.answer_tokens": settings["icl"]["answer_tokens"],
    }
    if "rag" in chosen:
        render["rag.top_k"] = settings["rag"]["top_k"]
        render["rag.chunk_size"] = settings["rag"]["chunk_size"]
        render["rag.chunk_overlap"] = settings["rag"]["chunk_overlap"]
        render["rag.window"] = settings["rag"]["window"]
    # A project's own templates override the shipped ones: editing one must rerender; so must editing
    # a local model's tokenizer or chat template (a hub model's are pinned by model.commit).
    tokenizer_files = tuple(f"{model.local_dir}/{p}" for p in TOKENIZER_FILES) if model.local_dir else ()
    steps.append(
        StepSpec("prompt.render", "prompt.render", render_deps, render, (*templates, *tokenizer_files))
    )

    return tuple(steps)


def _model_params(config: AdaptConfig, model: ModelInfo) -> dict[str, Any]:
    """What identifies the base model's files: the pinned commit of a hub model (never the branch name),
    the input files of a local one."""
    params: dict[str, Any] = {
        "model.base": config.model.base,
        "model.trust_remote_code": config.model.trust_remote_code,
    }
    if model.commit:
        params["model.commit"] = model.commit
    elif not model.local_dir and config.model.base != "scratch" and model.source != "gguf":
        params["model.revision"] = config.model.revision  # unresolved (plan only, offline and uncached)
    return params


def _train_params(method: str, settings: dict[str, Any]) -> dict[str, Any]:
    resolved = settings[method]
    keys = (*_SETTING_KEYS, *_METHOD_KEYS.get(method, ()))
    params = {f"{method}.{key}": resolved[key] for key in keys if key in resolved}
    if "parallel" in resolved:  # the planner's choice: single | ddp | fsdp | fsdp_offload
        params["hardware.train.parallel"] = resolved["parallel"]
    return params


def plan_variants(
    chosen: list[str], steps: tuple[StepSpec, ...], ladder: tuple[str, ...]
) -> tuple[Variant, ...]:
    """Cheapest first: base (zero-shot), icl, icl+rag, then one per trained model; names match the ladder."""
    ids = {s.id for s in steps}
    parts = [s for s in (IMPORT_STEP, "pretrain.train") if s in ids] + ["prompt.render"]
    found: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    if "icl" not in chosen or "icl.shots" in ids:
        found.append(("base", (), tuple(parts)))
    prompt: list[str] = []
    if "icl" in chosen:
        prompt.append("icl")
        parts += ["icl.shots"] if "icl.shots" in ids else []
        found.append(("icl", tuple(prompt), tuple(parts)))
    if "rag" in chosen and BASE_INDEX in ids:
        found.append(("+".join([*prompt, "rag"]), (*prompt, "rag"), (*parts, BASE_INDEX)))
    if "rag" in chosen and "rag.index" in ids:
        prompt.append("rag")
        parts.append("rag.index")
        name = "+".join(prompt) + (TUNED_RAG if "rag.embedder" in ids else "")
        strategies = (*prompt, "embedder") if "rag.embedder" in ids else tuple(prompt)
        found.append((name, strategies, tuple(parts)))
    for method in VARIANT_TRAINING:
        if f"{method}.train" not in ids:
            continue
        below = ("cpt.train",) if method != "cpt" and "cpt.train" in ids else ()
        strategies = (*prompt, method)
        # a fine-tuned variant serves as it was trained: without demonstrations (the name keeps "icl"
        # to match the ladder's rungs); cpt trains on the corpus, not on prompts, and keeps its shots
        own = [p for p in parts if p != "icl.shots"] if method in TRAINERS else parts
        found.append(("+".join(strategies), strategies, (*own, *below, f"{method}.train")))
    return tuple(
        Variant(name, strategies, deps, rung=name in ladder, conditional=name in ladder[1:])
        for name, strategies, deps in found
    )


def eval_steps(
    config: AdaptConfig,
    model: ModelInfo,
    variants: tuple[Variant, ...],
    settings: dict[str, Any],
    decisions: dict[str, StrategyDecision],
    loads: tuple[str, ...] = (),
) -> tuple[StepSpec, ...]:
    """eval.<variant> for each variant (its own artifacts + eval.load only), then the report over all of
    them; the report also reads `loads` (examples.load, eval.load): their bad rows, and eval/train leakage."""
    if not config.data.eval:
        return ()
    common = {
        **_model_params(config, model),
        "project.task": config.project.task,
        "project.seed": config.project.seed,
        "eval.max_new_tokens": int(settings.get("icl", {}).get("answer_tokens", 64)),
        "eval.batch_size": config.eval.batch_size,
    }
    labels: tuple[str, ...] = ()  # classify: the label set comes from the examples, never the eval set
    if config.project.task == "classify":
        common["eval.classify"] = config.eval.classify
        labels = ("examples.load",) if config.data.examples else ()
    model_inputs = (f"{model.local_dir}/**",) if model.local_dir else ()
    steps = []
    for variant in variants:
        params = {**common, "eval.variant": variant.name, "eval.strategies": list(variant.strategies)}
        if "rag.index" in variant.steps or BASE_INDEX in variant.steps:
            params["rag.top_k"] = settings["rag"]["top_k"]
        deps = ("eval.load", *labels, *(s for s in variant.steps if s not in labels))
        steps.append(StepSpec(variant.eval_step, "eval.variant", deps, params, model_inputs))
    report = {
        "project.task": config.project.task,
        "goal.metric": config.goal.metric if config.goal else None,
        "goal.target": config.goal.target if config.goal else None,
        "eval.variants": {v.name: list(v.strategies) for v in variants},
        "eval.ladder": [v.name for v in variants if v.rung],
    }
    estimates = {  # shown beside the measured figures; they depend on this machine's cores and memory
        step.removesuffix(".train"): _train_estimate(decisions[step.removesuffix(".train")])
        for step in dict.fromkeys(s for v in variants for s in v.steps if s.endswith(".train"))
        if step.removesuffix(".train") in decisions
    }
    trained = tuple(dict.fromkeys(s for v in variants for s in v.steps if s.endswith(".train")))
    sft = any(s.removesuffix(".train") in TRAINERS for s in trained)
    rag = any("rag.index" in v.steps for v in variants)
    retrieval = ("rag.train_context",) if sft and rag else ()  # its recall on the training examples
    imported = (IMPORT_STEP,) if model.source == "gguf" else ()  # the report names the GGUF source
    deps = (*(v.eval_step for v in variants), *trained, *retrieval, *imported, *sorted(set(loads)))
    shown = {"eval.estimates": estimates}
    return (*steps, StepSpec(REPORT_STEP, "eval.report", deps, report, shown=shown))


def _train_estimate(decision: StrategyDecision) -> dict[str, Any]:
    keys = ("memory_gb", "wall_hours", "train_tokens", "trainable_params")
    return {key: decision.estimate[key] for key in keys if key in decision.estimate}
