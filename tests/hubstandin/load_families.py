"""Run in a subprocess: load models through the Hub (HF_ENDPOINT / HF_HOME) the way users do; print JSON.

argv[1] is a JSON list of [family, repo_id, revision]. For each: AutoTokenizer and AutoModelForCausalLM
from_pretrained(repo_id, revision=...), a forward pass, the chat template rendered for a user turn and for a
system + user conversation (the error text where the real template rejects it), and the module names that
peft's target_modules="all-linear" wraps.
"""

from __future__ import annotations

import json
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

SYSTEM = {"role": "system", "content": "Be brief."}
USER = {"role": "user", "content": "How do I reset the router?"}


def render(tokenizer, messages: list[dict]) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as error:  # a template that rejects the conversation: report what it says
        return f"ERROR {type(error).__name__}: {error}"


def load(repo_id: str, revision: str) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(repo_id, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(repo_id, revision=revision)
    text = "Hello, how do I reset the router? résumé 🙂"
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    lora = get_peft_model(model, LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    return {
        "tokenizer_class": type(tokenizer).__name__,
        "tokenizer_len": len(tokenizer),
        "round_trip": tokenizer.decode(ids, skip_special_tokens=True).strip() == text,
        "bos_eos": [tokenizer.bos_token, tokenizer.eos_token],
        "adds_bos": tokenizer.bos_token is not None and ids[0] == tokenizer.bos_token_id,
        "chat_user": render(tokenizer, [USER]),
        "chat_system": render(tokenizer, [SYSTEM, USER]),
        "model_class": type(model).__name__,
        "model_type": model.config.model_type,
        "dtype": str(model.dtype).removeprefix("torch."),
        "logits_shape": list(logits.shape),
        "finite": bool(torch.isfinite(logits.float()).all()),
        "lora_targets": sorted(lora.peft_config["default"].target_modules),
    }


def main() -> None:
    results = {family: load(repo_id, revision) for family, repo_id, revision in json.loads(sys.argv[1])}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
