"""`adapt ask`: answer questions from the built artifacts (for now: retrieval only, with citations)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from adaptfile.cli.app import App, pass_app


@click.command(
    "ask",
    epilog='Examples:\n\n  adapt ask --retrieve-only "How do I reset the router?"\n\n'
    '  adapt ask --prompt-only --json "How do I reset the router?"\n\n'
    '  adapt ask --prompt-only --variant icl+rag+lora "How do I reset the router?"\n\n'
    "  adapt ask --retrieve-only --json --top-k 8 < questions.txt",
)
@click.argument("question", required=False)
@click.option(
    "--retrieve-only", is_flag=True, help="Print the retrieved chunks instead of generating an answer."
)
@click.option(
    "--prompt-only",
    is_flag=True,
    help="Print the exact prompt the model would get; loads no generative model.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question, on one line each.")
@click.option(
    "--top-k", type=click.IntRange(1, 100), help="Chunks to retrieve (default: rag.top_k of the build)."
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Use this index directory instead of the project's build.",
)
@click.option(
    "--variant",
    help="Variant to answer with, or whose exact prompt --prompt-only prints (default: the report's best; "
    "see `adapt eval`).",
)
@pass_app
def command(
    app: App,
    question: str | None,
    retrieve_only: bool,
    prompt_only: bool,
    as_json: bool,
    top_k: int | None,
    index_dir: Path | None,
    variant: str | None,
) -> None:
    """Ask QUESTION, or each line of stdin when QUESTION is omitted; the index and embedder load once."""
    if prompt_only:
        from adaptfile.cli.ask_prompt import prompt_only as show_prompts

        show_prompts(app, list(_questions(question)), as_json, variant)
        return
    if not retrieve_only:
        from adaptfile.cli.ask_answer import answer_questions

        answer_questions(app, _questions(question), variant, as_json)
        return
    from adaptfile.knowledge.retrieval import Retriever, find_index, retrieval_result

    retriever = Retriever.load(index_dir or find_index(app.project().root), top_k=top_k)
    for text in _questions(question):
        chunks = retriever.retrieve(text)
        if as_json:
            app.echo_json(retrieval_result(text, chunks))
            continue
        click.echo(text)
        for rank, chunk in enumerate(chunks, 1):
            click.echo(f"  {rank}. {chunk.citation}  score {chunk.score:.4f}")
            click.echo(f"     {_snippet(chunk.text)}")


def _questions(question: str | None) -> Iterator[str]:
    if question is not None:
        yield question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
