"""`adapt ask` answering: text with citations, --json shape, stdin questions, no build → run adapt build."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from adaptfile.cli.app import App
from adaptfile.cli.ask_answer import answer_questions
from adaptfile.errors import AdaptError


def _answer(root: Path, questions: list[str], variant: str | None, as_json: bool) -> str:
    import click

    @click.command()
    def run() -> None:
        answer_questions(App(directory=root), questions, variant, as_json)

    result = CliRunner().invoke(run, [], catch_exceptions=False)
    return result.stdout


def test_json_shape(mini_build: Path) -> None:
    out = _answer(mini_build, ["How long is the warranty?", "How do I dim the lamp?"], "icl+rag+lora", True)
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    row = rows[0]
    assert set(row) == {"question", "answer", "variant", "citations", "prompt_tokens", "latency_ms"}
    assert row["variant"] == "icl+rag+lora" and row["question"] == "How long is the warranty?"
    assert set(row["citations"][0]) == {"path", "start", "end"}
    assert row["citations"][0]["path"].startswith("docs/")


def test_text_prints_citations_as_path_start_end(mini_build: Path) -> None:
    out = _answer(mini_build, ["How do I clean the lamp?"], "icl+rag", False)
    assert any(line.strip().startswith("[docs/") and ":" in line and "-" in line for line in out.splitlines())


def test_without_a_build_the_error_says_build_first(tmp_path: Path) -> None:
    from mini_project import write_mini_project

    root = write_mini_project(tmp_path)
    try:
        _answer(root, ["hi"], None, False)
    except AdaptError as err:
        assert "adapt build" in err.render()
        assert err.exit_code == 2  # nothing built yet: a usage error (docs/errors.md)
    else:
        raise AssertionError("expected an AdaptError")
