"""A GGUF base model through the real command: plan reads the header, build imports it once, trains a
LoRA on the imported directory and asks; bad GGUF references are one-line errors (exit 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_gguf import write_tiny_gguf

pytest.importorskip("gguf")
pytest.importorskip("peft")

TOML = """[project]
name = "gguf"
task = "qa"

[model]
base = "{base}"

[data.examples]
path = "data/train.jsonl"

[data.eval]
path = "data/eval.jsonl"

[strategy]
include = ["icl", "lora"]
exclude = ["rag", "qlora", "prefix", "full", "cpt", "pretrain"]

[icl]
shots = 1
selection = "first"

[lora]
epochs = 1
max_seq_len = 64
"""
ROWS = "".join(json.dumps({"question": f"hello {i}?", "answer": "hello"}) + "\n" for i in range(6))


def adapt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adaptfile", "-C", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=_env())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}


def project(root: Path, base: str) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir()
    (root / "adapt.toml").write_text(TOML.format(base=base))
    (root / "data/train.jsonl").write_text(ROWS)
    (root / "data/eval.jsonl").write_text(json.dumps({"question": "hello 9?", "answer": "hello"}) + "\n")
    return root


def test_gguf_base_plans_builds_and_asks(tmp_path: Path) -> None:
    root = project(tmp_path / "p", "models/tiny.gguf")
    write_tiny_gguf(root / "models/tiny.gguf")
    plan = adapt(root, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["model"]["source"] == "gguf" and data["steps"][0]["id"] == "model.import"
    done = adapt(root, "build")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lock = json.loads((root / "adapt.lock").read_text())
    assert "model.import" in lock["steps"]["lora.train"]["deps"]
    assert "model.revision" not in lock["steps"]["lora.train"]["params"]
    manifest = json.loads((root / "build/manifest.json").read_text())
    assert manifest["base_model"]["source"] == "gguf"
    report = json.loads((root / "build/report/report.json").read_text())
    assert (
        report["base_model"]["gguf"]["quantization"] and report["base_model"]["gguf"]["source"] == "tiny.gguf"
    )
    assert "dequantized from the GGUF file tiny.gguf" in (root / "build/report/report.md").read_text()
    asked = adapt(root, "ask", "hello 1?")
    assert asked.returncode == 0, asked.stderr[-3000:]
    again = adapt(root, "build")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


@pytest.mark.parametrize(
    ("setup", "needles"),
    [
        ("not-gguf", ("model.base", "GGUF")),
        ("truncated", ("model.base", "truncated")),
        ("missing", ("model.base", "no such file")),
        ("package", ("model.base", "pip install")),
    ],
)
def test_bad_gguf_references_are_one_line_errors(
    tmp_path: Path, setup: str, needles: tuple[str, ...]
) -> None:
    base = {"package": "pkg:no_such_model_package/model.gguf"}.get(setup, "models/tiny.gguf")
    root = project(tmp_path / "p", base)
    path = root / "models/tiny.gguf"
    if setup == "not-gguf":
        path.write_text("this is not a model\n")
    elif setup == "truncated":
        whole = write_tiny_gguf(tmp_path / "whole.gguf").read_bytes()
        path.write_bytes(whole[: len(whole) // 3])
    done = adapt(root, "plan")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "hint:" in done.stderr
    for needle in needles:
        assert needle.lower() in done.stderr.lower(), done.stderr
