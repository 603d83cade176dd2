"""The bad-input suite's tiny ICL-only project and a runner of the real `adapt` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TOML = """[project]
name = "tiny"
task = "qa"

[model]
base = "model"

[data.examples]
path = "data/train.jsonl"

[strategy]
include = ["icl"]
exclude = ["rag", "lora", "qlora", "prefix", "full", "cpt", "pretrain"]

[icl]
shots = 1
selection = "first"
"""
MODEL_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "vocab_size": 1000,
    "max_position_embeddings": 512,
}


def tokenizer_files() -> dict[str, str]:
    """A word-level tokenizer for the model directory: prompt.render counts tokens with the real one."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<unk>", "</s>", "q", "a", "?", "Question", "Answer", ":", *(str(i) for i in range(10))]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "unk_token": "<unk>"}
    return {"model/tokenizer.json": backend.to_str(), "model/tokenizer_config.json": json.dumps(config)}


ROWS = "".join(json.dumps({"question": f"q{i}?", "answer": f"a{i}"}) + "\n" for i in range(4))
BASE: dict[str, str | bytes] = {
    "adapt.toml": TOML,
    "model/config.json": json.dumps(MODEL_CONFIG),
    **tokenizer_files(),
    "data/train.jsonl": ROWS,
}
SECRETS = {
    "ADAPT_TEST_SECRET": "sk-planted-adapt-5f1e9c2b7d",
    "HF_TOKEN": "hf_plantedtoken8c41a7e2",
    "OPENAI_API_KEY": "sk-planted-openai-93bd0a6f",
}


def run_adapt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m adaptfile *args` with wide output (no wrapped messages) and `env` added."""
    environment = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "adaptfile", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def project(root: Path, overrides: dict[str, str | bytes | None]) -> Path:
    """Write BASE with `overrides` applied (None leaves a file out) under `root`; return `root`."""
    for name, content in {**BASE, **overrides}.items():
        path = root / name
        if content is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return root
