"""The knowledge.load → knowledge.chunk → rag.index steps run through the engine's step protocol."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from adaptfile.engine.protocol import StepContext, StepKind
from adaptfile.errors import ConfigError
from adaptfile.knowledge.embedders import HashingEmbedder, register_embedder
from adaptfile.knowledge.retrieval import Retriever
from adaptfile.steps.knowledge_chunk import KnowledgeChunk
from adaptfile.steps.knowledge_load import KnowledgeLoad
from adaptfile.steps.rag_index import RagIndex

register_embedder("test-hashing", lambda: HashingEmbedder(dims=256, window=64, id="test-hashing"))
RAG = {"rag.embed_model": "test-hashing", "rag.chunk_size": None, "rag.chunk_overlap": None, "rag.top_k": 2,
       "rag.store": "simple", "rag.retriever": "hybrid"}  # fmt: skip


def _run(
    kind: StepKind, root: Path, params: dict, inputs: tuple[str, ...] = (), upstream: dict | None = None
) -> Path:
    out = root / ".out" / kind.name
    out.mkdir(parents=True)
    progress: list[tuple] = []
    ctx = StepContext(
        step_id=kind.name, key="k", params=params, root=root, inputs=inputs, upstream=upstream or {},
        out=out, work=root / ".work", log_file=io.StringIO(), on_progress=lambda *a: progress.append(a),
    )  # fmt: skip
    kind.run(ctx)
    for name in kind.outputs:
        assert (out / name.rstrip("/")).exists(), name
    return out


def test_load_chunk_index_then_retrieve(tree) -> None:
    root = tree({"docs/a.md": "# Alpha\n\nThe alpha launch code is 1234.\n", "docs/b.md": "# Beta\n\nBeta is blue.\n",
                 "docs/bin.txt": b"\x00\x00binary"})  # fmt: skip
    files = ("docs/a.md", "docs/b.md", "docs/bin.txt")
    params = {"data.knowledge.paths": ["docs/*"], "data.knowledge.text_field": "text"}
    load = _run(KnowledgeLoad(), root, params, files)
    docs = [json.loads(line) for line in (load / "documents.jsonl").read_text().splitlines()]
    assert [d["path"] for d in docs] == ["docs/a.md", "docs/b.md"]
    assert json.loads((load / "skipped.json").read_text())[0]["path"] == "docs/bin.txt"
    chunk = _run(KnowledgeChunk(), root, RAG, upstream={"knowledge.load": load})
    assert json.loads((chunk / "chunking.json").read_text())["chunk_size"] == 56  # 7/8 of the 64-token window
    index = _run(RagIndex(), root, RAG, upstream={"knowledge.chunk": chunk})
    best = Retriever.load(index / "index").retrieve("alpha launch code")[0]
    assert best.path == "docs/a.md" and best.text.endswith("The alpha launch code is 1234.")
    assert (root / ".adapt/embeddings/vectors.sqlite").is_file()


def test_glob_matching_nothing_fails_the_load_step(tree) -> None:
    root = tree({"adapt.toml": ""})
    with pytest.raises(ConfigError, match="matched no files"):
        _run(KnowledgeLoad(), root, {"data.knowledge.paths": ["docs/**/*.md"]})


def test_step_kinds_follow_the_protocol() -> None:
    for kind in (KnowledgeLoad(), KnowledgeChunk(), RagIndex()):
        assert isinstance(kind, StepKind)


def test_step_modules_import_without_ml_libraries() -> None:
    code = (
        "import sys\n"
        "import adaptfile.steps.knowledge_load, adaptfile.steps.knowledge_chunk, adaptfile.steps.rag_index\n"
        "import adaptfile.knowledge.chunking, adaptfile.knowledge.metrics, adaptfile.cli.ask_cmd\n"
        "heavy = [m for m in ('torch', 'llama_index', 'sentence_transformers', 'transformers', 'numpy') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
