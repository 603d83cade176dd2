"""What was left out is said: skipped knowledge files named with why (plan and build), text without an
extension read, and example/eval rows whose `source` is not in the corpus counted and named."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]

TOML = """
[project]
name = "skips"
task = "qa"

[model]
base = "scratch"

[model.scratch]
layers = 1
hidden = 32
heads = 2
vocab_size = 512
context = 256

[data.knowledge]
paths = ["pkg/*"]

[data.examples]
path = "data/train.jsonl"

[data.eval]
path = "data/eval.jsonl"

[hardware.train]
device = "cpu"
"""


def _rows(count: int, source: str) -> str:
    row = {"question": "How do I reset the lamp?", "answer": "Hold the button.", "source": source}
    return "".join(json.dumps({**row, "question": f"{row['question']} ({i})"}) + "\n" for i in range(count))


def _project(root: Path) -> Path:
    files: dict[str, str | bytes] = {
        "adapt.toml": TOML,
        "pkg/README": "The Zed lamp. Hold the button for five seconds to reset it.\n",
        "pkg/LICENSE": "Permission is hereby granted, free of charge, to any person.\n",
        "pkg/guide.md": "# Guide\n\nThe lamp has three brightness levels.\n",
        "pkg/core": b"\x7fELF\x02\x01\x01\x00" + bytes(64),
        "pkg/a.png": b"\x89PNG\r\n\x1a\n",
        "pkg/b.png": b"\x89PNG\r\n\x1a\n",
        "pkg/c.docx": b"PK\x03\x04",
        "data/train.jsonl": _rows(6, "pkg/a.png") + _rows(2, "gone.md") + _rows(4, "README"),
        "data/eval.jsonl": _rows(3, "core") + _rows(1, "LICENSE"),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_plan_names_skipped_files_and_rows_whose_source_is_not_in_the_corpus(
    tmp_path: Path, adapt: Runner
) -> None:
    done = adapt("-C", str(_project(tmp_path)), "plan", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    knowledge = plan["profile"]["knowledge"]
    assert knowledge["by_type"] == {"md": 1, "text (no extension)": 2}  # README and LICENSE are read
    assert knowledge["skipped"]["pkg/core"] == "no extension and binary file (NUL bytes), not text"
    assert knowledge["skipped"]["pkg/c.docx"] == "unsupported file type .docx"
    [files] = [w for w in plan["warnings"] if w.startswith("[data.knowledge]")]
    assert files.startswith("[data.knowledge]: 4 file(s) skipped: pkg/a.png (unsupported file type .png), ")
    assert " and 1 more;" in files  # the first three named, then the count
    [train] = [w for w in plan["warnings"] if w.startswith("data/train.jsonl: ") and "source" in w]
    assert "8 rows name a source that is no [data.knowledge] document" in train
    assert "'gone.md' (2)" in train and "'pkg/a.png' (6; skipped: unsupported file type .png)" in train
    [evaluation] = [w for w in plan["warnings"] if w.startswith("data/eval.jsonl: ") and "source" in w]
    assert "3 rows" in evaluation and "'core' (3; skipped: no extension and binary" in evaluation
    assert "LICENSE" not in evaluation and "README" not in train


def test_build_reads_text_without_an_extension_and_names_what_it_skipped(
    tmp_path: Path, adapt: Runner
) -> None:
    root = _project(tmp_path)
    done = adapt("-C", str(root), "build", "knowledge.load")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "warning: data.knowledge.paths: 4 files skipped" in out
    assert "pkg/a.png: unsupported file type .png" in out and "pkg/core: binary file (NUL bytes)" in out
    documents = (root / "build/knowledge.load/documents.jsonl").read_text().splitlines()
    assert [json.loads(line)["path"] for line in documents] == ["pkg/LICENSE", "pkg/README", "pkg/guide.md"]
    skipped = json.loads((root / "build/knowledge.load/skipped.json").read_text())
    assert {s["path"]: s["reason"] for s in skipped}["pkg/core"] == "binary file (NUL bytes), not text"
