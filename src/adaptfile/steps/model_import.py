"""Step model.import: dequantize a GGUF base model once into a plain safetensors model directory.

Every later step loads `model/` with `AutoModelForCausalLM.from_pretrained(dir)` in seconds instead
of dequantizing the GGUF again (about 14 s for SmolLM2-135M Q4_1 on 2 cores).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import ConfigError
from adaptfile.plan.gguf_header import GgufHeader, read_gguf_header
from adaptfile.plan.gguf_model import check_importable

DTYPE = "float32"  # dequantized weights are exact in float32; bf16 would round them a second time


class ModelImport:
    """model/ (config, model.safetensors, tokenizer, chat template) and gguf.json from one GGUF input."""

    name = "model.import"
    version = "1"
    # No params: the GGUF file is the step's one input, so its digest enters the key. Its path does
    # not (an installed package's absolute path differs between machines; the key must not).
    params: tuple[str, ...] = ()
    outputs = ("model/", "gguf.json")
    # gguf dequantizes (the legacy loader), transformers maps names, builds config and tokenizer.
    packages = ("gguf", "transformers")

    def run(self, ctx: StepContext) -> None:
        ggufs = [name for name in ctx.inputs if name.lower().endswith(".gguf")]
        if len(ggufs) != 1:
            raise ConfigError(
                f"step {ctx.step_id}: expected one .gguf input, got {len(ggufs)} ({', '.join(ggufs) or 'none'})",
                hint="point model.base at one .gguf file (or a directory and model.gguf_file)",
            )
        path = ctx.input_path(ggufs[0])
        header = read_gguf_header(path)
        check_importable(header)
        started = time.perf_counter()
        import_gguf(path, ctx.output("model/"))
        ctx.log(
            f"imported {path.name} ({header.architecture}, {header.quantization}, {header.params:,} parameters) "
            f"as {DTYPE} safetensors in {time.perf_counter() - started:.1f} s"
        )
        facts = gguf_facts(header)
        ctx.output("gguf.json").write_text(
            json.dumps(facts, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )


def import_gguf(path: Path, out: Path) -> None:
    """Dequantize the GGUF at `path` through transformers and save a plain model directory at `out`.

    transformers refuses `save_pretrained` on a GGUF-loaded model ("quantized with gguf and is not
    serializable"), so the model is rebuilt from its config without `quantization_config` and the
    dequantized state dict is loaded into it; that one saves like any other.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    directory, name = str(path.parent), path.name
    # dequantize=True: with the `kernels` package installed, the new loader would keep packed blocks.
    loaded = AutoModelForCausalLM.from_pretrained(
        directory,
        gguf_file=name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
        use_safetensors=True,  # the project-wide rule (tests/badinput/test_security.py); a GGUF is never unpickled
        local_files_only=True,
    )
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = ""  # the GGUF's directory: machine-specific, and meaningless in the import
    with torch.device("meta"):  # no random initialisation: every weight is assigned from the GGUF
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = copy.deepcopy(loaded.generation_config)
    model.save_pretrained(out)
    # local_files_only explicitly: transformers writes it into tokenizer_config.json, and left unset it
    # follows HF_HUB_OFFLINE, so the same GGUF would import to different bytes on different machines.
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name, local_files_only=True)
    tokenizer.name_or_path = ""
    tokenizer.model_max_length = config.max_position_embeddings  # a GGUF tokenizer has no limit of its own
    tokenizer.save_pretrained(out)


def gguf_facts(header: GgufHeader) -> dict[str, Any]:
    """What gguf.json records for the manifest and report: where the base model came from and how it was stored."""
    return {
        "source": header.path.name,
        "architecture": header.architecture,
        "name": header.metadata.get("general.name", ""),
        "quantization": header.quantization,
        "tensor_types": header.tensor_types,
        "params": header.params,
        "chat_template": header.has_chat_template,
        "gguf_version": header.version,
        "dequantized_to": DTYPE,
        "note": "the dequantized weights in model/ are what adaptfile trains and serves, not the quantized file",
    }


kind = ModelImport()
