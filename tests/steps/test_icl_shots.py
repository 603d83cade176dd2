"""Step icl.shots: ranked fixed shots for "first" / "diverse", the example index for "similar"."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adaptfile.engine.protocol import StepContext
from adaptfile.icl.records import Record, write_records
from adaptfile.knowledge.embedders import HashingEmbedder, register_embedder
from adaptfile.steps.icl_shots import kind

LABELS = ["card_arrival", "lost_card", "exchange_rate", "top_up"]
TEXTS = {
    "card_arrival": ["card not arrived", "when does my card arrive", "card delivery late"],
    "lost_card": ["lost my card", "card stolen today"],
    "exchange_rate": ["exchange rate euros", "rate for dollars"],
    "top_up": ["top up failed", "how to top up", "top up pending"],
}


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    register_embedder("test-hashing", lambda: HashingEmbedder(dims=64))
    rows = [(t, label) for label in LABELS for t in TEXTS[label]]
    records = [Record(i + 1, (("user", t), ("assistant", label)), label) for i, (t, label) in enumerate(rows)]
    up = tmp_path / "examples.load"
    up.mkdir()
    write_records(up / "examples.jsonl", records)
    return up


def run_step(root: Path, upstream: Path, params: dict, out: str) -> Path:
    target = root / out
    target.mkdir()
    ctx = StepContext("icl.shots", "k", params, root, (), {"examples.load": upstream}, target, root / "w",
                      io.StringIO())  # fmt: skip
    kind.run(ctx)
    return target


def _params(selection: str, shots: int = 4) -> dict:
    return {
        "icl.shots": shots,
        "icl.selection": selection,
        "project.seed": 0,
        "rag.embed_model": "test-hashing",
    }


def test_first_and_diverse(tmp_path: Path, examples: Path) -> None:
    first = run_step(tmp_path, examples, _params("first"), "first")
    diverse = run_step(tmp_path, examples, _params("diverse"), "diverse")
    assert json.loads((first / "report.json").read_text())["labels_covered"] == 2
    report = json.loads((diverse / "report.json").read_text())
    assert report["labels_covered"] == 4 and report["labels"] == 4 and not report["per_query"]
    ranked = [json.loads(line) for line in (diverse / "shots.jsonl").read_text().splitlines()]
    assert len(ranked) == 8 and {r["label"] for r in ranked[:4]} == set(LABELS)
    again = run_step(tmp_path, examples, _params("diverse"), "again")
    assert (again / "shots.jsonl").read_bytes() == (diverse / "shots.jsonl").read_bytes()


def test_similar_writes_the_example_index(tmp_path: Path, examples: Path) -> None:
    out = run_step(tmp_path, examples, _params("similar", 2), "similar")
    report = json.loads((out / "report.json").read_text())
    assert report["per_query"] and (out / "index" / "vectors.npy").is_file()
    from adaptfile.icl.index import ExampleIndex

    index = ExampleIndex.load(out / "index")
    assert [r.label for r in index.similar("my top up failed again", 2)] == ["top_up", "top_up"]
