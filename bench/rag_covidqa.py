"""Retrieval quality, build time, embedding throughput and incremental rebuild of adapt's RAG on COVID-QA.

Usage: python bench/rag_covidqa.py [--data ../shared/data/covidqa] [--questions 300 | --all] [--k 2] [--docs N]
Compares, in one run and with the same embedding model (all-MiniLM-L6-v2):
  adapt (hybrid and vector-only), llama-index's documented defaults (VectorStoreIndex.from_documents,
  SentenceSplitter() 1024/200, similarity_top_k=2), and plain BM25 (bm25s) over the same chunks.
Targets: adapt hit@2 ≥ 1.5× the llama-index default and above plain BM25; embedding throughput
≥ 0.9× sentence-transformers' encode on the same chunks; editing one document re-embeds only its
chunks and the rebuild takes < 10% of the full build.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
THROUGHPUT_SAMPLE = 192  # chunks embedded by both adapt and plain encode for the throughput ratio
THROUGHPUT_ROUNDS = 3  # alternating rounds; the best of each is compared (the CPU is shared)


def main() -> None:
    args = _parse()
    from adaptfile.knowledge.embedders import get_embedder
    from adaptfile.knowledge.metrics import RetrievalCase

    data = Path(args.data).resolve()
    rows = [json.loads(line) for line in (data / "qa.jsonl").open(encoding="utf-8")]
    doc_ids = sorted({p.stem for p in (data / "corpus").glob("*.txt")}, key=int)[: args.docs or None]
    rows = sorted((r for r in rows if str(r["document_id"]) in doc_ids), key=lambda r: r["id"])
    if not args.all and args.questions < len(rows):
        rows = random.Random(args.seed).sample(rows, args.questions)
    cases = [RetrievalCase(r["question"], f"corpus/{r['document_id']}.txt", r["answer"]) for r in rows]
    work = Path(tempfile.mkdtemp(prefix="rag_covidqa."))
    root = work / "project"
    (root / "corpus").mkdir(parents=True)
    for doc_id in doc_ids:
        shutil.copyfile(data / "corpus" / f"{doc_id}.txt", root / "corpus" / f"{doc_id}.txt")
    files = [f"corpus/{d}.txt" for d in doc_ids]
    print(f"corpus: {len(files)} documents, {len(cases)} questions (seed {args.seed}), k = {args.k}")
    embedder = get_embedder()  # loaded once, shared by every system below (not counted in build times)
    try:
        lines = run(root, files, cases, args.k, embedder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


def run(root: Path, files: list[str], cases: Sequence[Any], k: int, embedder: Any) -> list[str]:
    from adaptfile.knowledge.pipeline import RagSettings, build_rag

    out: list[str] = []
    progress = _printer()
    start = time.perf_counter()
    full = build_rag(
        root, files, root / "build" / "index", RagSettings(top_k=k), embedder=embedder, progress=progress
    )
    adapt_seconds = time.perf_counter() - start
    print(file=sys.stderr)
    equal_k = max(
        k, round(k * 1024 / full.chunk_size)
    )  # adapt chunks in the prompt tokens of the default's k
    adapt = {mode: _adapt_metrics(root, cases, (k, equal_k), mode, embedder) for mode in ("hybrid", "vector")}
    default_seconds, default_chunks, default_metrics = _llama_default(root, cases, k, embedder)
    adapt_chunks = _adapt_chunks(root, files, embedder)
    bm25_default = _bm25(default_chunks, cases, k)
    bm25_adapt = _bm25(adapt_chunks, cases, k)
    wide = {mode: adapt[mode].pop(equal_k) for mode in adapt} if equal_k != k else {}
    adapt = {mode: metrics[k] for mode, metrics in adapt.items()}
    ratio = adapt["hybrid"]["hit_rate"] / max(default_metrics["hit_rate"], 1e-9)
    best_bm25 = max(bm25_default["hit_rate"], bm25_adapt["hit_rate"])
    out.append(f"{'system':44} {'build s':>8} {'chunks':>7} {'hit@' + str(k):>7} {'MRR@' + str(k):>7}")
    out.append(
        _row("adapt (hybrid: BM25 + vector, score fusion)", adapt_seconds, full.chunks, adapt["hybrid"])
    )
    out.append(_row("adapt (vector only)", adapt_seconds, full.chunks, adapt["vector"]))
    out.append(
        _row("llama-index defaults (1024/200, top 2)", default_seconds, len(default_chunks), default_metrics)
    )
    out.append(_row("plain BM25 (bm25s) over the default chunks", None, len(default_chunks), bm25_default))
    out.append(_row("plain BM25 (bm25s) over adapt's chunks", None, len(adapt_chunks), bm25_adapt))
    verdict = "PASS" if ratio >= 1.5 and adapt["hybrid"]["hit_rate"] > best_bm25 else "FAIL"
    out.append(
        f"hit@{k} ratio adapt / llama-index default: {ratio:.2f}x (target ≥ 1.50x); "
        f"adapt {adapt['hybrid']['hit_rate']:.3f} vs best plain BM25 {best_bm25:.3f}: {verdict}"
    )
    for mode, metrics in wide.items():
        out.append(
            f"at equal prompt tokens (adapt top {equal_k} x {full.chunk_size} vs default top {k} x 1024): "
            f"adapt {mode} hit@{equal_k} {metrics['hit_rate']:.3f} MRR {metrics['mrr']:.3f}"
        )
    out.append(
        f"adapt build: chunk size {full.chunk_size} / overlap {full.chunk_overlap} tokens; {full.embed.summary()}"
    )
    out.append(_throughput(adapt_chunks, embedder))
    out.append(_incremental(root, files, embedder, adapt_seconds, k))
    return out


def _adapt_metrics(root: Path, cases: Sequence[Any], ks: tuple[int, ...], mode: str, embedder: Any) -> dict:
    """Metrics at each k in `ks` from one retrieval of max(ks) chunks per question."""
    from adaptfile.knowledge.metrics import retrieval_metrics
    from adaptfile.knowledge.retrieval import Retriever

    retriever = Retriever.load(root / "build" / "index", top_k=max(ks), mode=mode, embedder=embedder)
    results = [retriever.retrieve(case.question) for case in cases]
    return {k: retrieval_metrics(cases, results, k) for k in ks}


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
    from adaptfile.knowledge.metrics import retrieval_metrics

    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(root / "corpus")).load_data()
    index = VectorStoreIndex.from_documents(documents, embed_model=llama_embedding(embedder))
    seconds = time.perf_counter() - start
    nodes = list(index.docstore.docs.values())
    chunks = [(f"corpus/{n.metadata['file_name']}", n.get_content()) for n in nodes]
    retriever = index.as_retriever(similarity_top_k=2)
    results = [
        [
            _Cited(f"corpus/{h.node.metadata['file_name']}", h.node.get_content())
            for h in retriever.retrieve(c.question)
        ]
        for c in cases
    ]
    return seconds, chunks, retrieval_metrics(cases, results, k)


def _bm25(chunks: list[tuple[str, str]], cases: Sequence[Any], k: int) -> dict[str, float]:
    import bm25s

    from adaptfile.knowledge.metrics import retrieval_metrics

    model = bm25s.BM25()
    model.index(
        bm25s.tokenize([text for _, text in chunks], stopwords="en", show_progress=False), show_progress=False
    )
    query_tokens = bm25s.tokenize([c.question for c in cases], stopwords="en", show_progress=False)
    ids, _ = model.retrieve(query_tokens, k=min(k, len(chunks)), show_progress=False)
    results = [[_Cited(*chunks[i]) for i in row] for row in ids.tolist()]
    return retrieval_metrics(cases, results, k)


def _throughput(chunks: list[tuple[str, str]], embedder: Any) -> str:
    """Tokens/s of adapt's embedding path (cache, progress) vs `SentenceTransformer.encode`, best round of each."""
    from adaptfile.knowledge.embedding import EmbeddingCache, embed_texts

    texts = [text for _, text in random.Random(1).sample(chunks, min(THROUGHPUT_SAMPLE, len(chunks)))]
    tokens = sum(min(embedder.count_tokens(t), embedder.text_window) for t in texts)
    direct, ours = [], []
    for attempt in range(THROUGHPUT_ROUNDS):
        start = time.perf_counter()
        embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        direct.append(tokens / (time.perf_counter() - start))
        with tempfile.TemporaryDirectory() as tmp:
            cache = EmbeddingCache(Path(tmp) / f"v{attempt}.sqlite")
            start = time.perf_counter()
            embed_texts(texts, embedder, cache, progress=lambda *_: None, count_tokens=False)
            ours.append(tokens / (time.perf_counter() - start))
            cache.close()
    ratio = max(ours) / max(direct)
    return (
        f"embedding throughput on {len(texts)} chunks ({tokens:,} tokens): adapt {max(ours):,.0f} tokens/s, "
        f"sentence-transformers encode {max(direct):,.0f} tokens/s, ratio {ratio:.2f} (target ≥ 0.90)"
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
    verdict = "PASS" if again.embed.embedded <= len(own) and share < 0.10 else "FAIL"
    return (
        f"incremental: edited {rel} ({len(own)} chunks); rebuild re-embedded {again.embed.embedded} of "
        f"{again.chunks} chunks in {seconds:.1f}s = {share:.1%} of the full build ({full_seconds:.1f}s): {verdict}"
    )


class _Cited:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text


def _row(name: str, seconds: float | None, chunks: int, metrics: dict[str, float]) -> str:
    build = f"{seconds:8.1f}" if seconds is not None else f"{'-':>8}"
    return f"{name:44} {build} {chunks:7d} {metrics['hit_rate']:7.3f} {metrics['mrr']:7.3f}"


def _printer() -> Callable[[float, float | None, str], None]:
    def show(done: float, total: float | None, message: str) -> None:
        print(f"\r{message}", end="", file=sys.stderr, flush=True)

    return show


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "covidqa"))
    parser.add_argument("--questions", type=int, default=300, help="fixed random sample of questions")
    parser.add_argument("--all", action="store_true", help="every question")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--docs", type=int, default=0, help="only the first N documents (development)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
