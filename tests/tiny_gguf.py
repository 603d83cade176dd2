"""Write tiny GGUF files with the gguf package's GGUFWriter: a Llama-architecture chat model in seconds."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGES = (("h", "e"), ("l", "l"), ("he", "ll"), ("Ġ", "t"), ("Ġt", "h"), ("Ġth", "e"))
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, CONTEXT = 64, 2, 4, 2, 128, 256


def byte_alphabet() -> list[str]:
    """GPT-2's printable spelling of the 256 bytes, in byte order (a byte-level BPE's base vocabulary)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    spelled, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            spelled[byte] = chr(byte)
        else:
            spelled[byte] = chr(256 + extra)
            extra += 1
    return [spelled[b] for b in range(256)]


def write_tiny_gguf(
    path: Path,
    *,
    arch: str = "llama",
    weights: str = "Q8_0",
    tokenizer: str | None = "gpt2",
    chat_template: bool = True,
    seed: int = 0,
) -> Path:
    """A 2-layer Llama (hidden 64, GQA 4/2 heads) with a byte-level BPE vocabulary of 265 tokens.

    `weights` is the ggml type of the 2-D weights ("Q8_0", "Q4_1", "F16", "F32", or "Q8_1" written
    as raw bytes, which nothing dequantizes); norms stay F32 as llama.cpp writes them.
    """
    import gguf
    import numpy as np

    tokens = [*byte_alphabet(), *("".join(pair) for pair in MERGES), *SPECIAL]
    types = [gguf.TokenType.NORMAL] * (len(tokens) - len(SPECIAL)) + [gguf.TokenType.CONTROL] * len(SPECIAL)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny-llama-test")
    writer.add_block_count(LAYERS)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    if f"MOSTLY_{weights}" in gguf.LlamaFileType.__members__:
        writer.add_file_type(gguf.LlamaFileType[f"MOSTLY_{weights}"])
    if tokenizer:
        writer.add_tokenizer_model(tokenizer)
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges([" ".join(pair) for pair in MERGES])
        writer.add_bos_token_id(tokens.index("<|im_start|>"))
        writer.add_eos_token_id(tokens.index("<|im_end|>"))
        writer.add_pad_token_id(tokens.index("<|endoftext|>"))
        writer.add_add_bos_token(False)
    if chat_template:
        writer.add_chat_template(CHAT_TEMPLATE)

    def matrix(name: str, rows: int, cols: int) -> None:
        values = (rng.standard_normal((rows, cols)) * 0.2).astype(np.float32)
        if weights == "F32":
            writer.add_tensor(name, values)
        elif weights == "F16":
            writer.add_tensor(name, values.astype(np.float16))
        elif weights == "Q8_1":  # 32 values per 40-byte block; any bytes will do, nothing reads them
            raw = rng.integers(0, 255, size=(rows, cols // 32 * 40), dtype=np.uint8)
            writer.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType.Q8_1)
        else:
            kind = gguf.GGMLQuantizationType[weights]
            writer.add_tensor(name, gguf.quants.quantize(values, kind), raw_dtype=kind)

    def norm(name: str) -> None:
        writer.add_tensor(name, (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))

    kv = KV_HEADS * HIDDEN // HEADS
    matrix("token_embd.weight", len(tokens), HIDDEN)
    for layer in range(LAYERS):
        block = f"blk.{layer}"
        norm(f"{block}.attn_norm.weight")
        matrix(f"{block}.attn_q.weight", HIDDEN, HIDDEN)
        matrix(f"{block}.attn_k.weight", kv, HIDDEN)
        matrix(f"{block}.attn_v.weight", kv, HIDDEN)
        matrix(f"{block}.attn_output.weight", HIDDEN, HIDDEN)
        norm(f"{block}.ffn_norm.weight")
        matrix(f"{block}.ffn_gate.weight", FFN, HIDDEN)
        matrix(f"{block}.ffn_up.weight", FFN, HIDDEN)
        matrix(f"{block}.ffn_down.weight", HIDDEN, FFN)
    norm("output_norm.weight")  # no output.weight: the embeddings are tied, as in SmolLM2
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def expected_params(vocab: int = len(byte_alphabet()) + len(MERGES) + len(SPECIAL)) -> int:
    """The element count of write_tiny_gguf's tensors, counted by hand from the shapes above."""
    kv = KV_HEADS * HIDDEN // HEADS
    per_layer = 2 * HIDDEN + 2 * HIDDEN * HIDDEN + 2 * kv * HIDDEN + 3 * HIDDEN * FFN
    return vocab * HIDDEN + LAYERS * per_layer + HIDDEN
