"""Tiny random-initialised models of real architectures, as the files of a Hub repository.

`model_files("qwen2")` returns {filename: bytes} for a model whose config.json has the key layout of the real
repo named in FAMILIES (model_type, architectures, token ids, dtype, rope and window fields, Phi-3's auto_map),
with 2 layers and hidden size 64; safetensors weights in the real dtype; a tokenizer trained here with the
family's tokenizer type (byte-level BPE for Qwen, Llama 3 and GPT-NeoX; SentencePiece-style BPE with byte
fallback for Mistral, Gemma and Phi-3), its special tokens, and its real chat template (none for GPT-NeoX,
a base model). Same bytes in every run: seeded init, fixed corpus, deterministic training and serialisation.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from .families import FAMILIES, HEADS, HIDDEN, INTERMEDIATE, KV_HEADS, LAYERS, Family

SEED = 0  # torch.manual_seed before the random init

# Text the tokenizers are trained on: chat and support phrasing, so common words become single tokens.
CORPUS = [
    "You are a helpful assistant. Answer the question using the context.",
    "How do I reset the router to factory settings? Hold the reset button for ten seconds.",
    "The user asks a question and the assistant answers it briefly and politely.",
    "Thank you for your help! You're welcome; is there anything else I can do for you?",
    "The model reads the documents, then writes an answer with a citation.",
    "Hello, how are you? I am fine, thank you. What is the weather like today?",
    "system user assistant model question answer context document citation",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5",
]

TRANSFORMERS_VERSION = "4.44.2"  # written into config.json as the real repos do; fixed so bytes never drift
GITATTRIBUTES = b"""*.bin filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
tokenizer.json filter=lfs diff=lfs merge=lfs -text
"""


def model_files(name: str) -> dict[str, bytes]:
    """The repository files of family `name` (a key of FAMILIES); built once per process, then copied."""
    return dict(_build(name))


def write_model(name: str, directory: Path) -> Path:
    """Write family `name`'s files into `directory` (a local model directory); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for filename, content in model_files(name).items():
        (directory / filename).write_bytes(content)
    return directory


@functools.cache
def _build(name: str) -> dict[str, bytes]:
    family = FAMILIES[name]
    tokenizer = _train_tokenizer(family)
    ids = tokenizer.get_vocab()

    def token_ids(value):
        if isinstance(value, list):
            return [token_ids(v) for v in value]
        return ids[value] if isinstance(value, str) and value in ids else value

    vocab_size = -(-tokenizer.get_vocab_size() // family.pad_vocab_to) * family.pad_vocab_to
    config = {k: token_ids(v) for k, v in family.config.items()}
    config |= {
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "model_type": family.name,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "torch_dtype": family.torch_dtype,
        "transformers_version": TRANSFORMERS_VERSION,
        "vocab_size": vocab_size,
    }
    if family.name != "gpt_neox":  # GPT-NeoX has no grouped-query attention field
        config["num_key_value_heads"] = HEADS if family.name == "phi3" else KV_HEADS
    config = dict(sorted(config.items()))
    generation = {k: token_ids(v) for k, v in family.generation_config.items()}
    generation["transformers_version"] = TRANSFORMERS_VERSION

    tokenizer_config = dict(family.tokenizer_config)
    if family.chat_template is not None:
        tokenizer_config["chat_template"] = family.chat_template
    files = {
        ".gitattributes": GITATTRIBUTES,
        "README.md": _model_card(family),
        "config.json": _json(config),
        "generation_config.json": _json(generation),
        "model.safetensors": _weights(config),
        "tokenizer.json": tokenizer.to_str(pretty=True).encode(),
        "tokenizer_config.json": _json(dict(sorted(tokenizer_config.items()))),
    }
    return files


def _json(payload: dict) -> bytes:
    return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode()


def _model_card(family: Family) -> bytes:
    return (
        f"---\nlibrary_name: transformers\npipeline_tag: text-generation\nlicense: apache-2.0\n---\n\n"
        f"# tiny {family.name}\n\nA 2-layer random-initialised model laid out like {family.real_repo}, "
        "for adaptfile's tests.\n"
    ).encode()


def _train_tokenizer(family: Family):
    """A BPE tokenizer of the family's kind, trained on CORPUS; special tokens where the real one has them."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    if family.tokenizer_style == "byte_level":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        leading = list(family.leading_specials)
        vocab_size = 400
    else:  # SentencePiece-style BPE with byte fallback: <0x00>..<0xFF> follow the leading specials
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        alphabet = []
        leading = [*family.leading_specials, *(f"<0x{b:02X}>" for b in range(256))]
        vocab_size = 600
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=alphabet, special_tokens=leading, show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    if family.tokenizer_style == "llama_sp":  # the pipeline transformers' LlamaTokenizer builds
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="first", split=False
        )
        tokenizer.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
        )
    elif family.tokenizer_style == "gemma_sp":  # the pipeline transformers' GemmaTokenizer builds
        tokenizer.normalizer = normalizers.Replace(" ", "▁")
        tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
        tokenizer.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        )
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in family.trailing_specials]
    )
    if family.tokenizer_style != "byte_level":  # byte tokens live in the vocabulary, not among added tokens
        state = json.loads(tokenizer.to_str())
        state["added_tokens"] = [t for t in state["added_tokens"] if not t["content"].startswith("<0x")]
        tokenizer = Tokenizer.from_str(json.dumps(state))
    if family.bos_prepended is not None:  # as the real tokenizer.json does: "<bos> $A"
        bos, bos_id = family.bos_prepended, tokenizer.token_to_id(family.bos_prepended)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A:0", pair=f"{bos} $A:0 {bos}:1 $B:1", special_tokens=[(bos, bos_id)]
        )
    return tokenizer


def _weights(config: dict) -> bytes:
    """model.safetensors of a seeded random init of `config`, saved by transformers in config's dtype."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging

    model_config = AutoConfig.for_model(**{k: v for k, v in config.items() if k != "auto_map"})
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(model_config).to(getattr(torch, config["torch_dtype"]))
    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # one shard of a few hundred KB: the bar is noise in test output
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            return (Path(tmp) / "model.safetensors").read_bytes()
    finally:
        if bars:
            logging.enable_progress_bar()
