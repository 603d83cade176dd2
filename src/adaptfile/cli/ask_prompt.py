"""`adapt ask --prompt-only`: print the exact prompt the model would receive, without loading the model."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from adaptfile.cli.app import App
from adaptfile.errors import NotBuilt


def prompt_only(app: App, questions: Iterable[str], as_json: bool, variant: str | None = None) -> None:
    """For each question, the serving prompt of `variant` (default: the one `adapt ask` answers with, the
    report's best) exactly as the model gets it (Runtime.assemble, its own tokenizer) — as text, or one JSON
    object per line with `as_json`. Before any variant is built: the prompt.render step's prompt, with every
    shot and, where RAG is built, the retrieved context."""
    project = app.project()
    from adaptfile.runtime import Runtime

    try:
        runtime = Runtime.from_build(project.root, variant)
    except NotBuilt:
        if variant is not None:
            raise
        runtime = None
    if runtime is not None:
        for question in (q.strip() for q in questions):
            if question:
                _show(app, runtime.assemble(question), as_json, runtime.name)
        return
    steps = _built_steps(project.root)
    if "prompt.render" not in steps:
        raise NotBuilt(
            "no built prompt in build/: `adapt ask --prompt-only` shows the prompt a build produced",
            hint="run `adapt build` (or `adapt build prompt.render`) first",
        )
    from adaptfile.prompt.assemble import PromptBuild
    from adaptfile.prompt.budget import base_tokenizer, load_tokenizer

    model = project.config.model
    index_dir = steps["icl.shots"] / "index" if "icl.shots" in steps else None
    build = PromptBuild.load(steps["prompt.render"], None, index_dir)
    if build.settings.get("tokenizer") == "pretrain.tokenizer" and "pretrain.tokenizer" in steps:
        build.tokenizer = load_tokenizer(str(steps["pretrain.tokenizer"] / "tokenizer"), project.root)
    elif build.settings.get("tokenizer") == "model.import" and "model.import" in steps:
        build.tokenizer = load_tokenizer(str(steps["model.import"] / "model"), project.root)
    elif build.settings.get("tokenizer") not in (None, "estimate (4 characters per token)"):
        revision = _locked_commit(project.root) or model.revision
        build.tokenizer = base_tokenizer(model, project.root, revision)
    retriever = _retriever(steps)
    corpus = _corpus(steps) if build.settings.get("knowledge_in_prompt") else []
    for question in questions:
        question = question.strip()
        if not question:
            continue
        context = _retrieve(retriever, question) if retriever is not None else corpus
        _show(app, build.assemble(question, context), as_json, None)


def _show(app: App, assembled: Any, as_json: bool, variant: str | None) -> None:
    """The prompt and its token count: the ids the model receives, as `adapt ask` and eval count them."""
    if as_json:
        app.echo_json({"variant": variant, **assembled.to_json(), "prompt_tokens": assembled.tokens.total})
        return
    click.echo(assembled.prompt)
    tokens, shots, passages = assembled.tokens.total, len(assembled.shots), len(assembled.context)
    source = variant or "prompt.render (no variant built yet)"
    click.echo(f"-- {source}: {shots} shots, {passages} passages, {tokens} prompt tokens", err=True)


def stdin_questions(stream: Any) -> Iterable[str]:
    """Questions from stdin, one per line (blank lines skipped)."""
    for line in stream:
        if line.strip():
            yield line.rstrip("\n")


def _built_steps(root: Path) -> dict[str, Path]:
    """Step id → its directory under build/, from build/manifest.json."""
    manifest = root / "build" / "manifest.json"
    try:
        steps = json.loads(manifest.read_text(encoding="utf-8")).get("steps", {})
    except (OSError, ValueError):
        return {}
    return {step_id: root / "build" / step_id for step_id in steps if (root / "build" / step_id).is_dir()}


def _retriever(steps: dict[str, Path]) -> Any:
    if "rag.index" not in steps:
        return None
    from adaptfile.knowledge.retrieval import Retriever

    top_k = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        settings = json.loads((steps["prompt.render"] / "prompt.json").read_text(encoding="utf-8"))
        top_k = settings.get("top_k")
    return Retriever.load(steps["rag.index"] / "index", top_k=top_k)


def _corpus(steps: dict[str, Path]) -> list[Any]:
    """The whole corpus as passages, when the plan puts it into every prompt."""
    from adaptfile.prompt.template import Passage

    path = steps.get("knowledge.load", Path("-")) / "documents.jsonl"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle if line.strip()]
    return [Passage(d["path"], 0, len(d["text"]), d["text"]) for d in docs]


def _retrieve(retriever: Any, question: str) -> list[Any]:
    from adaptfile.prompt.template import Passage

    return [Passage(c.path, c.start, c.end, c.text) for c in retriever.retrieve(question)]


def _locked_commit(root: Path) -> str | None:
    """The base model's commit pinned in adapt.lock (the one the build used), if any."""
    from adaptfile.engine.layout import LOCK_NAME
    from adaptfile.engine.lockfile import read_lock

    lock = read_lock(root / LOCK_NAME) or {}
    commit = lock.get("model", {}).get("commit") if isinstance(lock.get("model"), dict) else None
    return commit if isinstance(commit, str) else None
