"""Large corpora: build a 100,000-chunk index in faiss and Qdrant the way `adapt build` does, report peak memory and query latency.

Usage: python bench/rag_scale.py [--chunks 100000] [--store faiss|qdrant|both] [--minilm] [--queries 50]
A synthetic corpus is written to disk first: --chunks paragraphs of ~60 words (a 5,000-word vocabulary plus
one unique marker each), 50 paragraphs to a Markdown file (2,000 files for 100,000 chunks), deterministic.
Each store then runs adapt's own build, `knowledge.pipeline.build_rag` (load → chunk → embed through the
per-chunk cache → index, streamed a document and a batch at a time; the rag.index step runs the same
`index_chunks`), in a process of its own with an empty embedding cache, and then answers the questions in
another fresh process (as `adapt ask` does after `adapt build`), so each peak memory is that phase's own.
Vectors come from adapt's HashingEmbedder (feature hashing, 384 dims, an 80-token window so that one
paragraph is one chunk; no model) unless --minilm is given: embedding 100k chunks with all-MiniLM-L6-v2 on
2 CPU cores takes hours, so the scale figures use hashing vectors and say so; --minilm (with a smaller
--chunks) runs the real model. Retrieval uses the settings a build records (top 4, 2 neighbours a side).
Targets: peak memory < 2 GB plus the model; a question answered in < 100 ms on CPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VOCABULARY = 5000
WORDS = 60
DOC_CHUNKS = 50  # paragraphs (one chunk each) per synthetic document


def main() -> None:
    args = _parse()
    if args.child:
        print(json.dumps(run_phase(args)))
        return
    stores = ["faiss", "qdrant"] if args.store == "both" else [args.store]
    vectors = "all-MiniLM-L6-v2" if args.minilm else "hashing embedder (384 dims, no model)"
    with tempfile.TemporaryDirectory(prefix="rag_scale.") as tmp:
        corpus = Path(tmp) / "corpus"
        start = time.perf_counter()
        files = write_corpus(corpus, args.chunks)
        print(
            f"synthetic corpus: {args.chunks:,} paragraphs in {files:,} files ({time.perf_counter() - start:.0f}s "
            f"to write), vectors from the {vectors}, {args.queries} queries; build_rag as `adapt build` runs it"
        )
        for store in stores:
            results = {}
            for phase in ("build", "query"):  # the query process is fresh, as `adapt ask` after `adapt build`
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    phase,
                    "--store",
                    store,
                    "--corpus",
                    str(corpus),
                ]
                command += ["--chunks", str(args.chunks), "--queries", str(args.queries)]
                command += ["--minilm"] if args.minilm else []
                out = subprocess.run(command, capture_output=True, text=True, check=False)
                if out.returncode:
                    print(f"{store}: {phase} failed\n{out.stderr[-3000:]}")
                    break
                results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
            else:
                _print(store, results["build"], results["query"])


def _print(store: str, b: dict, q: dict) -> None:
    memory = "PASS" if max(b["peak_mb"], q["peak_mb"]) - b["model_mb"] < 2048 else "FAIL"
    speed = "PASS" if q["hybrid_p95_ms"] < 100 and q["vector_p95_ms"] < 100 else "FAIL"
    print(
        f"{store:6} build {b['build_s']:.0f}s ({b['chunks'] / b['build_s']:,.0f} chunks/s; load+chunk "
        f"{b['seconds']['load'] + b['seconds']['chunk']:.0f}s, embed {b['seconds']['embed']:.0f}s, "
        f"index {b['seconds']['index']:.0f}s), {b['chunks']:,} chunks from {b['documents']:,} files"
    )
    print(
        f"{store:6} peak RSS: build process {b['peak_mb']:,.0f} MB (loaded {b['baseline_mb']:,.0f} MB: libraries + "
        f"embedder, model {b['model_mb']:,.0f} MB; + {b['peak_mb'] - b['baseline_mb']:,.0f} MB building), "
        f"query process {q['peak_mb']:,.0f} MB (loaded {q['baseline_mb']:,.0f} MB + "
        f"{q['peak_mb'] - q['baseline_mb']:,.0f} MB index and questions) (target < 2048 MB + model): {memory}"
    )
    print(
        f"{store:6} open {q['open_s']:.1f}s, first question {q['first_ms']:,.0f} ms; then per question: "
        f"vector median {q['vector_median_ms']:.1f} ms / p95 {q['vector_p95_ms']:.1f} ms, hybrid median "
        f"{q['hybrid_median_ms']:.1f} ms / p95 {q['hybrid_p95_ms']:.1f} ms (target < 100 ms), marker found "
        f"in top 4: {q['found']}/{q['queries']}: {speed}"
    )


def run_phase(args: argparse.Namespace) -> dict:
    """In a process of its own: build the index (`build`) or open it and ask the questions (`query`)."""
    for module in ("llama_index.core", "llama_index.retrievers.bm25"):  # in the baseline, as the model is
        importlib.import_module(module)
    from adaptfile.knowledge.embedders import HashingEmbedder, get_embedder
    from adaptfile.knowledge.stores import require_store

    require_store(args.store)  # imports faiss / qdrant_client
    before = _peak_mb()
    embedder = get_embedder() if args.minilm else HashingEmbedder(dims=384, window=80, id="hashing-384")
    model_mb = _peak_mb() - before if args.minilm else 0.0
    loaded = {"baseline_mb": _peak_mb(), "model_mb": model_mb}
    corpus = Path(args.corpus)
    index_dir = corpus.parent / f"index-{args.store}"
    if args.child == "build":
        return loaded | build(corpus, index_dir, args.store, embedder) | {"peak_mb": _peak_mb()}
    return loaded | ask(index_dir, embedder, args.chunks, args.queries) | {"peak_mb": _peak_mb()}


def build(corpus: Path, index_dir: Path, store: str, embedder) -> dict:
    from adaptfile.knowledge.pipeline import RagSettings, build_rag

    files = sorted(path.relative_to(corpus).as_posix() for path in corpus.rglob("*.md"))
    start = time.perf_counter()
    report = build_rag(
        corpus,
        files,
        index_dir,
        RagSettings(store=store),
        cache_path=index_dir.parent / f"vectors-{store}.sqlite",  # empty: every chunk is embedded
        embedder=embedder,
    )
    build_s = time.perf_counter() - start
    return {
        "chunks": report.chunks,
        "documents": report.documents,
        "seconds": report.seconds,
        "build_s": build_s,
    }


def ask(index_dir: Path, embedder, chunks: int, queries: int) -> dict:
    from adaptfile.knowledge.retrieval import Retriever

    start = time.perf_counter()
    retriever = Retriever.load(index_dir, embedder=embedder)
    open_s = time.perf_counter() - start
    rng = random.Random(7)
    targets = [rng.randrange(chunks) for _ in range(queries)]
    timings: dict[str, list[float]] = {"vector": [], "hybrid": []}
    found = 0
    for target in targets:
        question = _question(target)
        for mode in ("vector", "hybrid"):
            retriever.mode = mode
            start = time.perf_counter()
            hits = retriever.retrieve(question)
            timings[mode].append((time.perf_counter() - start) * 1000)
            found += mode == "hybrid" and any(f"marker{target:06d}" in hit.text for hit in hits)
    return {
        "open_s": open_s,
        "queries": queries,
        "found": found,
        "first_ms": timings["vector"][0],  # builds the neighbour map over the docstore, once per process
        **{f"{mode}_median_ms": statistics.median(ms[1:]) for mode, ms in timings.items()},
        **{f"{mode}_p95_ms": sorted(ms[1:])[int(0.95 * (len(ms) - 2))] for mode, ms in timings.items()},
    }


def write_corpus(root: Path, count: int) -> int:
    """`count` paragraphs, DOC_CHUNKS to a file, written one file at a time; returns the file count."""
    files = 0
    for first in range(0, count, DOC_CHUNKS):
        path = root / "docs" / f"{first // DOC_CHUNKS:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        numbers = range(first, min(first + DOC_CHUNKS, count))
        path.write_text("\n\n".join(_paragraph(n) for n in numbers) + "\n", encoding="utf-8")
        files += 1
    return files


def _paragraph(number: int) -> str:
    words = random.Random(number).choices(range(VOCABULARY), k=WORDS)
    return " ".join(f"w{w}" for w in words) + f" marker{number:06d}."


def _question(target: int) -> str:
    words = random.Random(target).choices(range(VOCABULARY), k=WORDS)
    return " ".join(f"w{w}" for w in words[:8]) + f" marker{target:06d}"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--store", choices=["faiss", "qdrant", "both"], default="both")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--minilm", action="store_true", help="embed with all-MiniLM-L6-v2 (slow on CPU)")
    parser.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
