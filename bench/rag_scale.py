"""Large corpora: build a 100,000-chunk index in faiss and Qdrant, report peak memory and query latency.

Usage: python bench/rag_scale.py [--chunks 100000] [--store faiss|qdrant|both] [--minilm] [--queries 50]
The corpus is synthetic (each chunk ~60 words from a 5,000-word vocabulary plus one unique marker) and
streamed: chunks and their vectors are generated batch by batch and handed to adapt's `build_index`,
which inserts them in batches, so no full list of texts or vectors is ever held outside the stores.
Vectors come from adapt's HashingEmbedder (feature hashing, 384 dims, no model) unless --minilm is given:
embedding 100k chunks with all-MiniLM-L6-v2 on 2 CPU cores takes hours, so the scale figures use hashing
vectors and say so; --minilm (with a smaller --chunks) runs the real model.
Each store is built and queried in its own process so its peak memory is its own.
Targets: peak memory < 2 GB plus the model; a question answered in < 100 ms on CPU.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOCABULARY = 5000
WORDS = 60
DOC_CHUNKS = 50  # chunks per synthetic document (consecutive, non-overlapping spans)
BATCH = 2048


def main() -> None:
    args = _parse()
    if args.child:
        print(json.dumps(run_store(args)))
        return
    stores = ["faiss", "qdrant"] if args.store == "both" else [args.store]
    vectors = "all-MiniLM-L6-v2" if args.minilm else "hashing embedder (384 dims, no model)"
    print(f"synthetic corpus: {args.chunks:,} chunks, vectors from the {vectors}, {args.queries} queries")
    for store in stores:
        command = [sys.executable, __file__, "--child", "--store", store, "--chunks", str(args.chunks)]
        command += ["--queries", str(args.queries)] + (["--minilm"] if args.minilm else [])
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            print(f"{store}: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        memory = "PASS" if r["peak_mb"] - r["model_mb"] < 2048 else "FAIL"
        speed = "PASS" if r["hybrid_p95_ms"] < 100 and r["vector_p95_ms"] < 100 else "FAIL"
        print(
            f"{store:6} build {r['build_s']:.0f}s ({r['chunks'] / r['build_s']:,.0f} chunks/s), "
            f"peak memory {r['peak_mb']:,.0f} MB (model {r['model_mb']:,.0f} MB, target < 2048 MB + model): {memory}"
        )
        print(
            f"{store:6} open {r['open_s']:.1f}s; per question: vector median {r['vector_median_ms']:.1f} ms / "
            f"p95 {r['vector_p95_ms']:.1f} ms, hybrid median {r['hybrid_median_ms']:.1f} ms / "
            f"p95 {r['hybrid_p95_ms']:.1f} ms (target < 100 ms), marker found in top 4: "
            f"{r['found']}/{r['queries']}: {speed}"
        )


def run_store(args: argparse.Namespace) -> dict:
    from adaptfile.knowledge.embedders import HashingEmbedder, get_embedder
    from adaptfile.knowledge.index import build_index
    from adaptfile.knowledge.retrieval import Retriever
    from adaptfile.knowledge.stores import StoreSpec

    before = _peak_mb()
    embedder = get_embedder() if args.minilm else HashingEmbedder(dims=384, window=256, id="hashing-384")
    model_mb = _peak_mb() - before if args.minilm else 0.0
    with tempfile.TemporaryDirectory(prefix="rag_scale.") as tmp:
        index_dir = Path(tmp) / "index"
        chunks = stream_chunks(args.chunks)
        texts, for_vectors = itertools.tee(chunks)  # one stream for the index, one for the embedder
        start = time.perf_counter()
        vectors = _vectors((chunk.embed_text() for chunk in for_vectors), embedder)
        build_index(texts, vectors, embedder, index_dir, {"top_k": 4, "window": 0}, StoreSpec(args.store))
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        retriever = Retriever.load(index_dir, embedder=embedder, window=0)
        open_s = time.perf_counter() - start
        rng = random.Random(7)
        targets = [rng.randrange(args.chunks) for _ in range(args.queries)]
        timings: dict[str, list[float]] = {"vector": [], "hybrid": []}
        found = 0
        for target in targets:
            question = _question(target)
            for mode in ("vector", "hybrid"):
                retriever.mode = mode
                start = time.perf_counter()
                hits = retriever.retrieve(question, top_k=4)
                timings[mode].append((time.perf_counter() - start) * 1000)
                found += mode == "hybrid" and any(f"marker{target:06d}" in hit.text for hit in hits)
    return {
        "chunks": args.chunks,
        "build_s": build_s,
        "open_s": open_s,
        "peak_mb": _peak_mb(),
        "model_mb": model_mb,
        "queries": args.queries,
        "found": found,
        **{f"{mode}_median_ms": statistics.median(ms[1:]) for mode, ms in timings.items()},
        **{f"{mode}_p95_ms": sorted(ms[1:])[int(0.95 * (len(ms) - 1))] for mode, ms in timings.items()},
    }


def stream_chunks(count: int) -> Iterator:
    """Chunks generated one at a time (never a list): DOC_CHUNKS consecutive spans per document."""
    from adaptfile.knowledge.chunking import Chunk

    for number in range(count):
        words = random.Random(number).choices(range(VOCABULARY), k=WORDS)
        text = " ".join(f"w{w}" for w in words) + f" marker{number:06d}."
        doc, position = divmod(number, DOC_CHUNKS)
        start = position * 1000  # every synthetic chunk is shorter than 1000 characters
        yield Chunk(f"docs/{doc:05d}.md", start, start + len(text), text, None)


def _question(target: int) -> str:
    words = random.Random(target).choices(range(VOCABULARY), k=WORDS)
    return " ".join(f"w{w}" for w in words[:8]) + f" marker{target:06d}"


def _vectors(texts: Iterator[str], embedder) -> Iterator:
    while batch := list(itertools.islice(texts, BATCH)):
        yield from embedder.embed(batch)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--store", choices=["faiss", "qdrant", "both"], default="both")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--minilm", action="store_true", help="embed with all-MiniLM-L6-v2 (slow on CPU)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
