"""Tiny-model fixtures: a BPE tokenizer trained on test text and a 2-layer Llama, never a download."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from adaptfile.engine.protocol import StepContext  # noqa: E402

WORDS = [
    "router",
    "reset",
    "button",
    "light",
    "wifi",
    "guest",
    "network",
    "port",
    "firmware",
    "update",
    "cable",
    "power",
    "admin",
    "password",
]


def qa_pairs(count: int, seed: int = 0) -> list[dict[str, str]]:
    """Learnable pairs: the answer repeats the question's words in reverse."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = rng.sample(WORDS, rng.randint(2, 5))
        rows.append({"input": "how " + " ".join(words), "output": " ".join(reversed(words))})
    return rows


def corpus(count: int = 30, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 40))) + "." for _ in range(count)]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local base model directory: tokenizer trained on test text + a randomly initialised 2-layer Llama."""
    from adaptfile.train.models import scratch_llama, scratch_shape
    from adaptfile.train.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("tiny-base")
    texts = corpus() + [f"how {r['input']} {r['output']}" for r in qa_pairs(50, seed=9)]
    tokenizer = train_tokenizer(texts, 300, root)
    model = scratch_llama(scratch_shape(2, 32, 2, 300, 128), tokenizer, seed=0)
    model.save_pretrained(root)
    return root


def write_jsonl(directory: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


def lora_params(base: Path, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model.base": str(base),
        "model.revision": None,
        "project.task": "qa",
        "project.instruction": "Answer.",
        "project.seed": 0,
        "lora.epochs": 4.0,
        "lora.learning_rate": 5e-3,
        "lora.batch_size": 8,
        "lora.grad_accum": 1,
        "lora.gradient_checkpointing": False,
        "lora.precision": "fp32",
        "lora.max_seq_len": 64,
        "lora.packing": True,
        "lora.save_every": 3,
        "lora.r": 8,
        "lora.alpha": 16.0,
        "lora.dropout": 0.1,
        "lora.targets": "all-linear",
        "lora.merge": False,
        "hardware.train.device": "cpu",
    }
    return {**params, **overrides}


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., StepContext]:
    """`make_ctx(params, upstream, name=...)`: a StepContext with its own out/ and work/ dirs."""

    def make(
        params: dict[str, Any], upstream: dict[str, Path], name: str = "run", step: str = "lora.train"
    ) -> StepContext:
        base = tmp_path / name
        (base / "out").mkdir(parents=True, exist_ok=True)
        (base / "work").mkdir(parents=True, exist_ok=True)
        return StepContext(
            step_id=step,
            key=name,
            params=params,
            root=tmp_path,
            inputs=(),
            upstream=upstream,
            out=base / "out",
            work=base / "work",
            log_file=io.StringIO(),
        )

    return make


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "examples.load", "examples.jsonl", qa_pairs(40))
