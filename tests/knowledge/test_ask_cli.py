"""`adapt ask --retrieve-only`: citations, --json, --top-k, and questions from stdin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptfile.cli.app import App
from adaptfile.cli.ask_cmd import command
from adaptfile.knowledge.pipeline import RagSettings, build_rag

FILES = ["docs/billing.md", "docs/router.md", "docs/wifi.txt"]


@pytest.fixture
def index(corpus: Path) -> Path:
    build_rag(
        corpus, FILES, corpus / "build/rag.index/index", RagSettings(embed_model="test-hashing", top_k=2)
    )
    return corpus / "build/rag.index/index"


def _ask(args: list[str], stdin: str | None = None):
    return CliRunner().invoke(command, args, obj=App(), input=stdin, catch_exceptions=False)


def test_json_answer(index: Path, corpus: Path) -> None:
    result = _ask(
        ["--retrieve-only", "--json", "--index", str(index), "--top-k", "1", "how long do refunds take"]
    )
    out = json.loads(result.output)
    assert out["question"] == "how long do refunds take"
    (chunk,) = out["chunks"]
    assert chunk["path"] == "docs/billing.md"
    assert (corpus / chunk["path"]).read_text()[chunk["start"] : chunk["end"]] == chunk["text"]


def test_text_answer_cites_path_and_span(index: Path) -> None:
    result = _ask(["--retrieve-only", "--index", str(index), "reset the router"])
    lines = result.output.splitlines()
    assert lines[0] == "reset the router"
    assert lines[1].startswith("  1. docs/router.md:") and "score" in lines[1]
    assert sum(line.startswith("  ") and ". docs/" in line for line in lines) == 2  # rag.top_k of the build


def test_stdin_one_json_object_per_line(index: Path) -> None:
    result = _ask(
        ["--retrieve-only", "--json", "--index", str(index)], stdin="reset the router\n\nwifi password\n"
    )
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["question"] for r in rows] == ["reset the router", "wifi password"]
    assert rows[1]["chunks"][0]["path"] == "docs/wifi.txt"
