"""Step model.import: a GGUF dequantized once into a plain model directory that reloads and generates identically."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import ConfigError
from adaptfile.steps.model_import import kind
from tiny_gguf import write_tiny_gguf

pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SRC = Path(__file__).resolve().parents[2] / "src"
GGUF_INPUT = "@models/tiny.gguf"  # the engine's name for a file outside the project


def run_import(project: Path, gguf: Path, out: str) -> Path:
    target = project / out
    target.mkdir(parents=True)
    ctx = StepContext(
        "model.import", "k", {}, project, (GGUF_INPUT,), {}, target, project / "work", io.StringIO(),
        input_files={GGUF_INPUT: str(gguf)},
    )  # fmt: skip
    kind.run(ctx)
    return target


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the tiny Q4_1 GGUF, the step's output directory)."""
    root = tmp_path_factory.mktemp("gguf")
    (root / "models").mkdir()
    gguf = write_tiny_gguf(root / "models" / "tiny.gguf")
    return gguf, run_import(root / "project", gguf, "a")


def test_writes_a_plain_model_directory(imported: tuple[Path, Path]) -> None:
    _, out = imported
    model_dir = out / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} <= names
    assert (
        "chat_template.jinja" in names or "chat_template" in (model_dir / "tokenizer_config.json").read_text()
    )
    config = json.loads((model_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert str(imported[0].parent) not in "".join(
        p.read_text(errors="replace") for p in model_dir.glob("*.json")
    )
    facts = json.loads((out / "gguf.json").read_text())
    assert facts["source"] == "tiny.gguf" and facts["architecture"] == "llama"
    assert facts["quantization"] == "Q8_0" and facts["tensor_types"] == {"Q8_0": 15, "F32": 5}
    assert facts["dequantized_to"] == "float32" and facts["chat_template"] is True


def test_reloads_and_generates_identically_to_the_gguf(imported: tuple[Path, Path]) -> None:
    gguf, out = imported
    from transformers import AutoModelForCausalLM, AutoTokenizer

    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    plain = AutoModelForCausalLM.from_pretrained(out / "model")
    assert getattr(plain, "hf_quantizer", None) is None and plain.dtype == torch.float32
    theirs, ours = direct.state_dict(), plain.state_dict()
    assert theirs.keys() == ours.keys()
    assert all(torch.equal(theirs[name], ours[name]) for name in theirs)

    gguf_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    messages = [{"role": "user", "content": "hello there, the theme"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt == gguf_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt, return_tensors="pt")
    assert ids["input_ids"].tolist() == gguf_tokenizer(prompt, return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        assert torch.equal(direct(**ids).logits, plain(**ids).logits)
    greedy = {"max_new_tokens": 12, "do_sample": False}
    assert torch.equal(direct.generate(**ids, **greedy), plain.generate(**ids, **greedy))


def test_byte_identical_in_a_second_process(imported: tuple[Path, Path], tmp_path: Path) -> None:
    """Dequantization and saving are deterministic: another process, with another hash seed and the
    other HF_HUB_OFFLINE setting (transformers once wrote it into tokenizer_config.json), writes the same bytes."""
    from huggingface_hub import constants

    gguf, first = imported
    code = (
        "import sys; from pathlib import Path; sys.path[:0] = [sys.argv[3], str(Path(sys.argv[3]).parent)]\n"
        "from test_model_import import run_import\n"
        "run_import(Path(sys.argv[1]), Path(sys.argv[2]), 'b')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": "12345"}
    env["HF_HUB_OFFLINE"] = "0" if constants.HF_HUB_OFFLINE else "1"
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), str(gguf), str(Path(__file__).parent)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    second = tmp_path / "b"
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    differ = [f for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    small = [f for f in differ if (first / f).stat().st_size < 100_000]
    assert differ == [], {str(f): ((first / f).read_text(), (second / f).read_text()) for f in small}


def test_refuses_anything_but_one_gguf_input(tmp_path: Path) -> None:
    ctx = StepContext("model.import", "k", {}, tmp_path, ("models/a.bin",), {}, tmp_path / "o", tmp_path / "w",
                      io.StringIO())  # fmt: skip
    with pytest.raises(ConfigError, match=r"step model.import: expected one \.gguf input, got 0"):
        kind.run(ctx)


def test_engine_builds_it_to_the_same_lock_wherever_the_gguf_lies(tmp_path: Path) -> None:
    """Through the engine: the GGUF outside the project is named "@models/tiny.gguf", so two clones whose
    GGUF sits at different absolute paths write byte-identical adapt.lock files; a rebuild is a no-op."""
    from adaptfile.engine import build
    from adaptfile.plan.model import StepSpec

    locks = []
    for clone in ("one", "two"):
        (tmp_path / clone / "site" / "models").mkdir(parents=True)
        gguf = write_tiny_gguf(tmp_path / clone / "site" / "models" / "tiny.gguf")
        project = tmp_path / clone / "project"
        project.mkdir()
        specs = [StepSpec("model.import", "model.import", (), {}, (str(gguf),))]
        first = build(project, specs)
        assert first.ok, [o.error for o in first.outcomes]
        assert [o.outcome for o in first.outcomes] == ["ran"]
        assert [o.outcome for o in build(project, specs).outcomes] == ["fresh"]
        locks.append((project / "adapt.lock").read_bytes())
    assert locks[0] == locks[1]
    assert b"@models/tiny.gguf" in locks[0] and str(tmp_path).encode() not in locks[0]
