"""README.md stays true: the adapt.toml reference is the generated one."""

from __future__ import annotations

from pathlib import Path

from adaptfile.config.reference import END, START, reference_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_reference_in_readme_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    embedded = text.split(START, 1)[1].split(END, 1)[0]
    assert embedded.strip() == reference_markdown().strip(), (
        "README reference is stale: adapt schema --markdown"
    )


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = README.read_text(encoding="utf-8").split("## ", 1)[0]
    assert "make demo" in head
    assert "make test" in head
