"""The persisted BM25 index is the same bytes in every process (bm25s numbers words in set order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("llama_index.retrievers.bm25")

BUILD = """
import sys
from llama_index.core.schema import TextNode
from llama_index.retrievers.bm25 import BM25Retriever
from adaptfile.knowledge.index import canonical_vocabulary
texts = ["the lamp has a warm light", "hold the reset button for ten seconds", "the warranty lasts two years",
         "run ./configure then make", "the guest network has its own password"]
nodes = [TextNode(text=t, id_=str(i)) for i, t in enumerate(texts)]
retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=2)
before = [n.node.node_id for n in retriever.retrieve("how long is the warranty")]
canonical_vocabulary(retriever.bm25)
after = [n.node.node_id for n in retriever.retrieve("how long is the warranty")]
assert before == after, (before, after)
retriever.persist(sys.argv[1])
loaded = BM25Retriever.from_persist_dir(sys.argv[1])
assert [n.node.node_id for n in loaded.retrieve("reset button")][0] == "1"
"""


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_bm25_index_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", BUILD, str(tmp_path / seed)], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    assert _files(tmp_path / "1") == _files(tmp_path / "2")
