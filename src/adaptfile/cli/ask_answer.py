"""`adapt ask`: answer questions with a built variant (model + adapter, retrieval, prompt) and cite sources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from adaptfile.cli.app import App


def answer_questions(app: App, questions: Iterable[str], variant: str | None, as_json: bool) -> None:
    """Each question's answer with its citations, or one JSON object per line with `as_json`.
    The variant (default: the report's best) loads once, on the first question."""
    from adaptfile.runtime import Runtime

    runtime = Runtime.from_build(app.project().root, variant)
    for question in questions:
        question = question.strip()
        if not question:
            continue
        answer = runtime.answer(question)
        if as_json:
            app.echo_json(answer_json(question, runtime.name, answer))
            continue
        click.echo(answer.text)
        for citation in answer.citations:
            click.echo(f"  [{citation}]")
        click.echo(
            f"-- {runtime.name}: {answer.prompt_tokens} prompt tokens, {answer.latency_ms:.0f} ms", err=True
        )


def answer_json(question: str, variant: str, answer: Any) -> dict[str, Any]:
    """The shape `adapt ask --json` prints for one question."""
    return {
        "question": question,
        "answer": answer.text,
        "variant": variant,
        "citations": [c.to_json() for c in answer.citations],
        "prompt_tokens": answer.prompt_tokens,
        "latency_ms": answer.latency_ms,
    }
