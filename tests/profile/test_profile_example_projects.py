"""The shipped example projects load, profile cleanly, and stay small."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.config import load_project
from adaptfile.profile import profile_data, read_examples

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("name", "fmt", "max_kb"),
    [
        ("quickstart", "prompt-completion", 200),
        ("support-rag", "messages", 200),
        ("intent-classifier", "text-label", 300),
    ],
)
def test_example_profiles_without_bad_rows(name: str, fmt: str, max_kb: int) -> None:
    root = EXAMPLES / name
    assert (root / "README.md").is_file()
    profile = profile_data(load_project(root))
    assert profile.examples is not None and profile.eval is not None
    assert profile.examples.format == fmt
    assert profile.examples.bad_rows == () and profile.eval.bad_rows == ()
    assert profile.examples.duplicates == 0 and profile.eval_overlap == 0
    shipped = [p for p in root.rglob("*") if p.is_file() and not {".adapt", "build"} & set(p.parts)]
    assert sum(p.stat().st_size for p in shipped) < max_kb * 1024  # what the repo ships, not a demo build


def test_quickstart_sources_name_real_documents() -> None:
    root = EXAMPLES / "quickstart"
    profile = profile_data(load_project(root))
    assert profile.knowledge is not None and 8 <= profile.knowledge.files <= 12
    assert profile.examples is not None and profile.examples.with_source == profile.examples.rows >= 50
    config = load_project(root).config.data
    assert config.examples is not None and config.eval is not None
    for table in (config.examples, config.eval):
        for example in read_examples(root, table):
            assert example.source is not None and (root / example.source).is_file()


def test_intent_classifier_labels_come_from_the_category_column() -> None:
    profile = profile_data(load_project(EXAMPLES / "intent-classifier"))
    assert profile.examples is not None and profile.eval is not None
    assert (profile.examples.rows, profile.examples.labels) == (300, 15)
    assert (profile.eval.rows, profile.eval.labels) == (75, 15)
