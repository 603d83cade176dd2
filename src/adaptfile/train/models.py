"""Build or load the model a recipe trains: a scratch Llama, a base model, and its PEFT wrapping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from adaptfile.errors import StepFailed
from adaptfile.plan.estimate import load_precision
from adaptfile.plan.model_info import check_weights

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def scratch_shape(layers: int, hidden: int, heads: int, vocab: int, context: int) -> dict[str, int]:
    """The planner's scratch architecture: MLP width 8·ceil(8h/3/8), full multi-head attention."""
    return {
        "layers": layers,
        "hidden": hidden,
        "heads": heads,
        "kv_heads": heads,
        "intermediate": 8 * math.ceil(8 * hidden / 3 / 8),
        "vocab": vocab,
        "context": context,
    }


def scratch_llama(shape: dict[str, int], tokenizer: Any, seed: int) -> Any:
    """A freshly initialised Llama of `shape` (untied embeddings), seeded for identical init."""
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=max(shape["vocab"], len(tokenizer)),
        hidden_size=shape["hidden"],
        intermediate_size=shape["intermediate"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape.get("kv_heads", shape["heads"]),
        max_position_embeddings=shape["context"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    transformers.set_seed(seed)
    return LlamaForCausalLM(config)


def base_location(params: dict[str, Any], upstream: dict[str, Path]) -> tuple[str, str | None]:
    """Where the model to train lives: an upstream trained model (scratch / cpt) or model.base."""
    for step in ("cpt.train", "pretrain.train", "model.import"):
        if step in upstream:
            return str(upstream[step] / "model"), None
    base = params.get("model.base")
    if not base or base == "scratch":
        raise StepFailed(
            "model.base is 'scratch' but no pretrain.train output reached this step",
            hint="run `adapt plan` to check the DAG; training steps on a scratch model depend on pretrain.train",
        )
    return base, params.get("model.commit") or params.get("model.revision")


def load_tokenizer(location: str, revision: str | None, trust_remote_code: bool = False) -> Any:
    """The base model's tokenizer, with a pad token (eos when the model has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        location, revision=revision, trust_remote_code=trust_remote_code
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


LOAD_TIME_KEYS = ("local_files_only", "is_local")  # how the files were found, not what the tokenizer is


def save_tokenizer(tokenizer: Any, target: Path | str) -> None:
    """Save without load-time facts: transformers records `local_files_only` (it follows HF_HUB_OFFLINE)
    and `is_local` in tokenizer_config.json, so identical builds would differ between machines."""
    for key in LOAD_TIME_KEYS:
        tokenizer.init_kwargs.pop(key, None)
    tokenizer.save_pretrained(target)


def load_base(location: str, revision: str | None, method: str, precision: str,
              trust_remote_code: bool = False) -> Any:  # fmt: skip
    """The causal LM at `location` in the dtype the estimator counts for `method` at `precision`
    (plan.estimate.load_precision): fp32 for full weights, the training precision for LoRA / prefix,
    NF4 with the training precision as compute dtype for QLoRA (bf16 on Ampere+, fp16 on a T4 / V100)."""
    import torch
    from transformers import AutoModelForCausalLM

    loaded = load_precision(method, precision)
    quantize_4bit = loaded == "nf4"
    compute = getattr(torch, DTYPES[precision])
    kwargs: dict[str, Any] = {"dtype": compute if quantize_4bit else getattr(torch, DTYPES[loaded])}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
    if Path(location).is_dir():
        check_weights(Path(location), location)
    model = AutoModelForCausalLM.from_pretrained(
        location, revision=revision, trust_remote_code=trust_remote_code, use_safetensors=True, **kwargs
    )
    if quantize_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model


def wrap_peft(model: Any, method: str, params: dict[str, Any]) -> Any:
    """The model with a LoRA / QLoRA adapter or a trainable prefix; `full` returns it unchanged."""
    if method in ("full", "cpt", "pretrain"):
        return model
    from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model

    if method == "prefix":
        config: Any = PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=int(params["prefix.virtual_tokens"])
        )
    else:
        r = int(params[f"{method}.r"])
        alpha = params.get(f"{method}.alpha") or 2 * r
        targets = params.get(f"{method}.targets", "all-linear")
        config = LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=r,
            lora_alpha=float(alpha),
            lora_dropout=float(params.get(f"{method}.dropout", 0.0)),
            target_modules=targets if isinstance(targets, str) else list(targets),
        )
    return get_peft_model(model, config)
