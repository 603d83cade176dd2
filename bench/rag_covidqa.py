"""Retrieval quality, build time, embedding throughput and incremental rebuild of adapt's RAG on COVID-QA.

Usage: python bench/rag_covidqa.py [--data ../shared/data/covidqa] [--dev | --validate] [--questions N] [--k 2]
       [--window W] [--docs N] [--epochs 1] [--batch-size 32] [--learning-rate 2e-5] [--cache DIR]
       [--skip-throughput]
Questions come from qa.jsonl in file order: lines 1-600 tune the embedder (--dev also reports on them),
lines 601-935 are reported, and lines after 935 are never read (a held-out set kept elsewhere). Tuning
settings are chosen with --validate: tune on lines 1-450, report on lines 451-600.
Prints hit@1, hit@2, hit@4 and MRR@4 (every system returns its top 4) for: llama-index's documented defaults
(VectorStoreIndex.from_documents, SentenceSplitter() 1024/200), BM25 (bm25s) over the default and over
adapt's chunks, adapt hybrid and vector-only with all-MiniLM-L6-v2, and adapt hybrid and vector-only with
MiniLM tuned on lines 1-600 (rag.embedder's training: gold chunk + one BM25 hard negative per question,
MultipleNegativesRankingLoss). The last column is the mean prompt tokens the top k passages cost.
Targets: hybrid with the tuned embedder ≥ 0.72 hit@2 and ≥ 0.10 above BM25 over the same chunks; the
rag.index embedding path ≥ 1.0× the chunks/s of a plain `SentenceTransformer.encode` on the same chunks;
editing one document re-embeds only its chunks and the rebuild takes < 5% of the full build.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
THROUGHPUT_SAMPLE = 768  # chunks embedded by both adapt and plain encode for the throughput ratio
THROUGHPUT_ROUNDS = 3  # alternating rounds; the medians are compared (the CPU is shared)
TUNE_LINES = 600  # qa.jsonl lines 1-600: tuning
VALIDATE_LINES = 150  # with --validate, the last 150 tuning lines (451-600) are reported instead of tuned on
LAST_LINE = 935  # lines 601-935: reported; later lines are held out and never read
DEPTH = 4  # every system returns its top 4: hit@1, hit@2 and hit@4 are prefixes of one ranking


def main() -> None:
    args = _parse()
    from adaptfile.knowledge.embedders import get_embedder
    from adaptfile.knowledge.metrics import RetrievalCase

    data = Path(args.data).resolve()
    tune, report = read_questions(data / "qa.jsonl")
    doc_ids = sorted({p.stem for p in (data / "corpus").glob("*.txt")}, key=int)[: args.docs or None]

    def cases_of(rows: list[dict]) -> list[RetrievalCase]:
        rows = [r for r in rows if str(r["document_id"]) in doc_ids]
        return [RetrievalCase(r["question"], f"corpus/{r['document_id']}.txt", r["answer"]) for r in rows]

    if args.validate:
        tune, report = tune[:-VALIDATE_LINES], tune[-VALIDATE_LINES:]
    cases = cases_of(tune if args.dev else report)[: args.questions or None]
    tune_cases = cases_of(tune)
    work = Path(tempfile.mkdtemp(prefix="rag_covidqa."))
    root = work / "project"
    (root / "corpus").mkdir(parents=True)
    for doc_id in doc_ids:
        shutil.copyfile(data / "corpus" / f"{doc_id}.txt", root / "corpus" / f"{doc_id}.txt")
    files = [f"corpus/{d}.txt" for d in doc_ids]
    reported = (
        (1, _tuned_on(args))
        if args.dev
        else (_tuned_on(args) + 1, TUNE_LINES if args.validate else LAST_LINE)
    )
    sample = f"qa.jsonl lines {reported[0]}-{reported[1]}"
    print(f"corpus: {len(files)} documents, {len(cases)} questions ({sample}), k = {args.k}")
    embedder = get_embedder()  # loaded once, shared by every system below (not counted in build times)
    try:
        lines = run(root, files, cases, tune_cases, args.k, embedder, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


def _tuned_on(args: argparse.Namespace) -> int:
    """The last qa.jsonl line the embedder is tuned on."""
    return TUNE_LINES - VALIDATE_LINES if args.validate else TUNE_LINES


def read_questions(path: Path) -> tuple[list[dict], list[dict]]:
    """(tuning rows: lines 1-600, reported rows: lines 601-935); reading stops at line 935."""
    rows: list[dict] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number > LAST_LINE:
                break
            rows.append(json.loads(line))
    return rows[:TUNE_LINES], rows[TUNE_LINES:]


def run(
    root: Path,
    files: list[str],
    cases: Sequence[Any],
    tune_cases: Sequence[Any],
    k: int,
    embedder: Any,
    args: argparse.Namespace,
) -> list[str]:
    from adaptfile.knowledge.pipeline import RagSettings, build_rag

    out: list[str] = []
    progress = _printer()
    window = args.window
    start = time.perf_counter()
    settings = RagSettings(top_k=k) if window is None else RagSettings(top_k=k, window=window)
    cache = Path(args.cache) / "embeddings.sqlite" if args.cache else None
    full = build_rag(
        root,
        files,
        root / "build" / "index",
        settings,
        embedder=embedder,
        progress=progress,
        cache_path=cache,
    )
    adapt_seconds = time.perf_counter() - start
    print(file=sys.stderr)
    adapt = {
        mode: _adapt_metrics(root / "build" / "index", cases, k, mode, embedder)
        for mode in ("hybrid", "vector", "keyword")
    }
    default_seconds, default_chunks, default_metrics = _llama_default(root, cases, k, embedder)
    adapt_chunks = _adapt_chunks(root, files, embedder)
    bm25_default = _bm25(default_chunks, cases, k, embedder)
    bm25_adapt = _bm25(adapt_chunks, cases, k, embedder)
    tuned, tuning_line = _tune(root, files, tune_cases, embedder, args)
    start = time.perf_counter()
    build_rag(
        root,
        files,
        root / "build" / "index-tuned",
        settings,
        embedder=tuned,
        progress=progress,
        cache_path=cache,
    )
    tuned_seconds = time.perf_counter() - start
    print(file=sys.stderr)
    tuned_metrics = {
        mode: _adapt_metrics(root / "build" / "index-tuned", cases, k, mode, tuned)
        for mode in ("hybrid", "vector")
    }
    out.append(
        f"{'system':58} {'build s':>8} {'chunks':>7} {'hit@1':>6} {'hit@2':>6} {'hit@4':>6} {'MRR@4':>6} "
        f"{'tokens@' + str(k):>9}"
    )
    w = adapt["hybrid"]["window"]
    rows = [
        (
            "llama-index defaults (1024/200, vector top k)",
            default_seconds,
            len(default_chunks),
            default_metrics,
        ),
        ("BM25 (bm25s) over the default chunks", None, len(default_chunks), bm25_default),
        ("BM25 (bm25s) over adapt's chunks", None, len(adapt_chunks), bm25_adapt),
        (f"adapt keyword (BM25) retriever (±{w} neighbours)", adapt_seconds, full.chunks, adapt["keyword"]),
        (f"adapt hybrid, MiniLM (today; ±{w} neighbours)", adapt_seconds, full.chunks, adapt["hybrid"]),
        (f"adapt vector only, MiniLM (±{w} neighbours)", adapt_seconds, full.chunks, adapt["vector"]),
        (
            f"adapt hybrid, tuned embedder (±{w} neighbours)",
            tuned_seconds,
            full.chunks,
            tuned_metrics["hybrid"],
        ),
        (
            f"adapt vector only, tuned embedder (±{w} neighbours)",
            tuned_seconds,
            full.chunks,
            tuned_metrics["vector"],
        ),
    ]
    out += [_row(*row) for row in rows]
    out.append(tuning_line)
    best = tuned_metrics["hybrid"]["hit@2"]
    # The target is against BM25 over the same chunks. BM25 ranks bare chunks, while the keyword
    # retriever returns the same ±w neighbours as hybrid, so at the same prompt cost: the same bar held to that
    # stricter, like-for-like baseline is printed beside it.
    for name, bm25, bar in (("BM25 over the same chunks", bm25_adapt["hit@2"], "target"),
                            (f"BM25 with the same ±{w} neighbours", adapt["keyword"]["hit@2"],
                             "the same bar at equal prompt cost")):  # fmt: skip
        verdict = "PASS" if best >= 0.72 and best - bm25 >= 0.10 else "FAIL"
        out.append(
            f"hit@2 hybrid with the tuned embedder {best:.3f} vs {name} {bm25:.3f} "
            f"({best - bm25:+.3f}); {bar} ≥ 0.720 and ≥ +0.100: {verdict}"
        )
    out.append(
        f"prompt tokens per question (top {k}): adapt {adapt['hybrid']['tokens']:.0f} vs llama-index default "
        f"{default_metrics['tokens']:.0f} ({adapt['hybrid']['tokens'] / max(default_metrics['tokens'], 1e-9):.2f}x)"
    )
    out.append(
        f"adapt build: chunk size {full.chunk_size} / overlap {full.chunk_overlap} tokens; {full.embed.summary()}"
    )
    if not args.skip_throughput:
        out.append(_throughput(adapt_chunks, embedder))
        out.append(_incremental(root, files, embedder, adapt_seconds, k))
    return out


def _tune(
    root: Path, files: list[str], tune_cases: Sequence[Any], embedder: Any, args: argparse.Namespace
) -> tuple[Any, str]:
    """Tune MiniLM on the tuning rows' (question, gold chunk, BM25 hard negative) triples over adapt's chunks."""
    from adaptfile.knowledge.documents import load_documents
    from adaptfile.knowledge.embedders import SentenceTransformerEmbedder, packaged_minilm
    from adaptfile.knowledge.pipeline import RagSettings, chunk_corpus
    from adaptfile.knowledge.tuning import Question, training_set, tune_embedder

    chunks = chunk_corpus(load_documents(root, files).documents, RagSettings(), embedder)[0]
    questions = [Question(c.question, c.source, c.answer) for c in tune_cases]
    data = training_set(questions, chunks)
    start = time.perf_counter()
    out = root / "build" / "embedder"
    stats = tune_embedder(
        str(packaged_minilm()), data, out, seed=0, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, progress=_printer(),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    print(file=sys.stderr)
    line = (
        f"tuning: {len(data)} pairs from qa.jsonl lines 1-{_tuned_on(args)} (answer chunk found for "
        f"{data.answer_found}, BM25 fallback {data.bm25_fallback}), 1 BM25 hard negative each, "
        f"{args.epochs} epoch(s), batch {args.batch_size}, learning rate {args.learning_rate:g}, "
        f"{stats['steps']} steps, {seconds:.0f}s"
    )
    tuned = SentenceTransformerEmbedder(str(out))
    tuned.id = "all-MiniLM-L6-v2, tuned"  # its revision (the weights' sha256) keys the embedding cache
    return tuned, line


def _adapt_metrics(index: Path, cases: Sequence[Any], k: int, mode: str, embedder: Any) -> dict:
    """hit@1/2/4, MRR@4 and prompt tokens at k of the passages adapt's retriever returns (window from the
    build). Retrieval at 4 ranks hits exactly as at 1 or 2: fusion always scores FUSION_DEPTH candidates."""
    from adaptfile.knowledge.retrieval import Retriever

    retriever = Retriever.load(index, top_k=DEPTH, mode=mode, embedder=embedder)
    results = [retriever.retrieve(case.question) for case in cases]
    return {**_score(cases, results, k, embedder), "window": retriever.window}


def _score(cases: Sequence[Any], results: Sequence[Sequence[Any]], k: int, embedder: Any) -> dict:
    """hit@1, hit@2, hit@4, MRR@4 and "tokens": the mean tokens of the top-k passages (their prompt cost)."""
    from adaptfile.knowledge.metrics import retrieval_metrics

    scores: dict[str, float] = {
        f"hit@{n}": retrieval_metrics(cases, results, n)["hit_rate"] for n in (1, 2, 4)
    }
    scores["mrr"] = retrieval_metrics(cases, results, DEPTH)["mrr"]
    tokens = [sum(embedder.count_tokens(p.text) for p in passages[:k]) for passages in results]
    return {**scores, "tokens": sum(tokens) / max(len(tokens), 1)}


def _adapt_chunks(root: Path, files: list[str], embedder: Any) -> list[tuple[str, str]]:
    from adaptfile.knowledge.documents import load_documents
    from adaptfile.knowledge.pipeline import RagSettings, chunk_corpus

    chunks = chunk_corpus(load_documents(root, files).documents, RagSettings(), embedder)[0]
    return [(c.path, c.text) for c in chunks]


def _llama_default(
    root: Path, cases: Sequence[Any], k: int, embedder: Any
) -> tuple[float, list[tuple[str, str]], Any]:
    """llama-index's documented path: SimpleDirectoryReader → VectorStoreIndex.from_documents → top 2."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

    from adaptfile.knowledge.index import llama_embedding

    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(root / "corpus")).load_data()
    index = VectorStoreIndex.from_documents(documents, embed_model=llama_embedding(embedder))
    seconds = time.perf_counter() - start
    nodes = list(index.docstore.docs.values())
    chunks = [(f"corpus/{n.metadata['file_name']}", n.get_content()) for n in nodes]
    retriever = index.as_retriever(similarity_top_k=DEPTH)  # default 2; its ranking prefix is the same
    results = [
        [
            _Cited(f"corpus/{h.node.metadata['file_name']}", h.node.get_content())
            for h in retriever.retrieve(c.question)
        ]
        for c in cases
    ]
    return seconds, chunks, _score(cases, results, k, embedder)


def _bm25(chunks: list[tuple[str, str]], cases: Sequence[Any], k: int, embedder: Any) -> dict[str, float]:
    import bm25s

    model = bm25s.BM25()
    model.index(
        bm25s.tokenize([text for _, text in chunks], stopwords="en", show_progress=False), show_progress=False
    )
    query_tokens = bm25s.tokenize([c.question for c in cases], stopwords="en", show_progress=False)
    ids, _ = model.retrieve(query_tokens, k=min(DEPTH, len(chunks)), show_progress=False)
    results = [[_Cited(*chunks[i]) for i in row] for row in ids.tolist()]
    return _score(cases, results, k, embedder)


def _throughput(chunks: list[tuple[str, str]], embedder: Any) -> str:
    """Chunks/s of the rag.index embedding path (cache, token-sorted passes, device choice) against a
    plain `SentenceTransformer.encode` (its defaults) of the same chunks; medians of alternating rounds."""
    from adaptfile.knowledge.embedding import EmbeddingCache, Encoder, embed_texts

    texts = [text for _, text in random.Random(1).sample(chunks, min(THROUGHPUT_SAMPLE, len(chunks)))]
    direct, ours = [], []
    for attempt in range(THROUGHPUT_ROUNDS):
        start = time.perf_counter()
        embedder.model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        direct.append(len(texts) / (time.perf_counter() - start))
        with tempfile.TemporaryDirectory() as tmp:
            cache = EmbeddingCache(Path(tmp) / f"v{attempt}.sqlite")
            start = time.perf_counter()
            embed_texts(texts, embedder, cache, progress=lambda *_: None)
            ours.append(len(texts) / (time.perf_counter() - start))
            cache.close()
    ours_median, direct_median = statistics.median(ours), statistics.median(direct)
    ratio = ours_median / direct_median
    encoder = Encoder(embedder, len(texts))
    where = f"{encoder.device}, {encoder.workers} process(es), {encoder.batch} a pass"
    verdict = "PASS" if ratio >= 1.0 else "FAIL"
    return (
        f"embedding throughput on {len(texts)} chunks: rag.index path {ours_median:.1f} chunks/s ({where}), "
        f"SentenceTransformer.encode {direct_median:.1f} chunks/s, ratio {ratio:.2f}x (target ≥ 1.00x): {verdict}"
    )


def _incremental(root: Path, files: list[str], embedder: Any, full_seconds: float, k: int) -> str:
    """Edit one document, rebuild, and count what was re-embedded."""
    from adaptfile.knowledge.documents import load_documents
    from adaptfile.knowledge.pipeline import RagSettings, build_rag, chunk_corpus

    target = root / files[len(files) // 2]
    text = target.read_text(encoding="utf-8")
    middle = text.find(". ", len(text) // 2) + 2
    target.write_text(
        text[:middle] + "This sentence was added by the benchmark. " + text[middle:], encoding="utf-8"
    )
    rel = target.relative_to(root).as_posix()
    own = chunk_corpus(load_documents(root, [rel]).documents, RagSettings(), embedder)[0]
    start = time.perf_counter()
    again = build_rag(root, files, root / "build" / "index", RagSettings(top_k=k), embedder=embedder)
    seconds = time.perf_counter() - start
    share = seconds / full_seconds
    verdict = "PASS" if again.embed.embedded <= len(own) and share < 0.05 else "FAIL"
    return (
        f"incremental: edited {rel} ({len(own)} chunks); rebuild re-embedded {again.embed.embedded} of "
        f"{again.chunks} chunks in {seconds:.1f}s = {share:.1%} of the full build ({full_seconds:.1f}s): {verdict}"
    )


class _Cited:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text


def _row(name: str, seconds: float | None, chunks: int, metrics: dict[str, float]) -> str:
    build = f"{seconds:8.1f}" if seconds is not None else f"{'-':>8}"
    hits = " ".join(f"{metrics[f'hit@{n}']:6.3f}" for n in (1, 2, 4))
    return f"{name:58} {build} {chunks:7d} {hits} {metrics['mrr']:6.3f} {metrics['tokens']:9.0f}"


def _printer() -> Callable[[float, float | None, str], None]:
    def show(done: float, total: float | None, message: str) -> None:
        print(f"\r{message}", end="", file=sys.stderr, flush=True)

    return show


def _parse() -> argparse.Namespace:
    from adaptfile.knowledge.tuning import BATCH_SIZE, EPOCHS, LEARNING_RATE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "covidqa"))
    parser.add_argument("--questions", type=int, default=0, help="only the first N questions (development)")
    parser.add_argument("--k", type=int, default=2)
    split = parser.add_mutually_exclusive_group()
    split.add_argument(
        "--dev", action="store_true", help=f"report on the tuning questions (qa.jsonl lines 1-{TUNE_LINES})"
    )
    split.add_argument(
        "--validate",
        action="store_true",
        help=f"tune on lines 1-{TUNE_LINES - VALIDATE_LINES}, report on lines "
        f"{TUNE_LINES - VALIDATE_LINES + 1}-{TUNE_LINES} (choosing tuning settings)",
    )
    parser.add_argument("--window", type=int, default=None, help="rag.window (default: adapt's)")
    parser.add_argument("--docs", type=int, default=0, help="only the first N documents (development)")
    parser.add_argument(
        "--cache", default="", help="keep the per-chunk embedding cache in DIR across runs (development)"
    )
    parser.add_argument(
        "--skip-throughput", action="store_true", help="skip the throughput and incremental rebuild checks"
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="embedder tuning epochs")
    parser.add_argument(
        "--learning-rate", type=float, default=LEARNING_RATE, help="embedder tuning learning rate"
    )
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help="embedder tuning batch (in-batch negatives)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
