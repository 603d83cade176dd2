"""The estimator: training memory, adapter sizes, FLOPs, GPU-hours, cost, serving memory and latency."""

from __future__ import annotations

import math
from dataclasses import dataclass

from adaptfile.plan.hardware import HardwareProfile
from adaptfile.plan.model_info import ModelInfo

GB = 1e9
MFU = 0.35  # model FLOP utilisation assumed for every device
ACCURACY = "±30% until measured"
FIT_MARGIN = 0.9  # a training estimate must stay under 90% of device memory
FULL_MARGIN = 0.8  # full fine-tuning only "with margin": under 80%
TRAIN_BYTES = {"full": 16.0, "qlora": 0.55}  # per (frozen or trained) base parameter; lora/prefix: precision
ADAPTER_BYTES = 16.0  # per trainable adapter parameter: weight, gradient, AdamW moments, master copy
ACT_BYTES = 34  # activation bytes per token × hidden per layer, 16-bit, flash attention (Korthikanti et al.)
ACT_BYTES_CHECKPOINTED = 2  # with gradient checkpointing only each layer's input stays
LOGIT_BYTES = 6  # per token × vocab: 16-bit logits + fp32 copy for the loss
RECOMPUTE = 4 / 3  # gradient checkpointing reruns the forward pass
TOKENS_PER_PARAM = 20  # compute-optimal pre-training (Chinchilla)
LORA_FLOP_SHARE = 2 / 3  # no weight gradients for frozen weights
_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def precision_bytes(precision: str) -> int:
    """Bytes per parameter or activation value in a precision."""
    return 4 if precision == "fp32" else 2


def lora_shapes(model: ModelInfo, targets: list[str] | str) -> tuple[list[tuple[int, int, int]], bool]:
    """(d_in, d_out, copies per layer) of each adapted matrix, and whether any name was unknown."""
    h, kv, inter = model.hidden, model.kv_heads * model.head_dim, model.intermediate
    known = {
        "q_proj": (h, h, 1),
        "k_proj": (h, kv, 1),
        "v_proj": (h, kv, 1),
        "o_proj": (h, h, 1),
        "gate_proj": (h, inter, model.experts),
        "up_proj": (h, inter, model.experts),
        "down_proj": (inter, h, model.experts),
    }
    if not model.gated_mlp:
        known.pop("gate_proj")
    names = [n for n in _LINEAR if n in known] if targets == "all-linear" else list(targets)
    shapes, unknown = [], False
    for name in names:
        short = name if name in known else f"{name}_proj"
        if short in known:
            shapes.append(known[short])
        else:
            shapes.append((h, h, 1))
            unknown = True
    return shapes, unknown


def adapter_params(model: ModelInfo, r: int, targets: list[str] | str) -> int:
    """LoRA parameters: r × (d_in + d_out) per adapted matrix, in every layer."""
    shapes, _ = lora_shapes(model, targets)
    return model.layers * sum(r * (d_in + d_out) * copies for d_in, d_out, copies in shapes)


def prefix_params(model: ModelInfo, virtual_tokens: int) -> int:
    """Prefix tuning: a key and a value vector per virtual token in every layer."""
    return virtual_tokens * model.layers * 2 * model.kv_heads * model.head_dim


def activation_bytes(model: ModelInfo, batch: int, seq: int, checkpointing: bool, precision: str) -> float:
    """≈ batch × seq × hidden × layers × a small constant, plus the logits the loss needs."""
    tokens = batch * seq
    scale = precision_bytes(precision) / 2
    if checkpointing:
        layers = tokens * model.hidden * (model.layers * ACT_BYTES_CHECKPOINTED + ACT_BYTES)
    else:
        layers = tokens * model.hidden * model.layers * ACT_BYTES
    return (layers + tokens * model.vocab * LOGIT_BYTES) * scale


@dataclass(frozen=True)
class Memory:
    """A training memory estimate per device, in GB."""

    weights_gb: float  # frozen or trained base weights (with optimizer states for full)
    trainable_gb: float  # adapter weights, gradients and optimizer states
    activations_gb: float

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.trainable_gb + self.activations_gb


def training_memory(
    method: str,
    model: ModelInfo,
    hw: HardwareProfile,
    trainable: int,
    batch: int,
    seq: int,
    checkpointing: bool,
    precision: str,
) -> Memory:
    """Bytes per parameter by method (full 16, sharded 16/P; LoRA 2 + 16 per adapter; QLoRA 0.55) + activations."""
    acts = activation_bytes(model, batch, seq, checkpointing, precision) / GB
    if method in ("full", "cpt", "pretrain"):
        shards = hw.count if hw.count > 1 else 1
        return Memory(TRAIN_BYTES["full"] * model.params / shards / GB, 0.0, acts)
    base = TRAIN_BYTES["qlora"] if method == "qlora" else precision_bytes(precision)
    return Memory(base * model.params / GB, ADAPTER_BYTES * trainable / GB, acts)


def training_flops(method: str, model: ModelInfo, tokens: float) -> float:
    """6·N·D; PEFT methods about 2/3 of that. N counts the parameters active per token."""
    flops = 6 * model.active_params * tokens
    return flops * LORA_FLOP_SHARE if method in ("lora", "qlora", "prefix") else flops


def wall_hours(flops: float, hw: HardwareProfile, checkpointing: bool = False) -> float:
    """FLOPs / (P × peak FLOP/s × MFU × 3600), times the recompute of gradient checkpointing."""
    factor = RECOMPUTE if checkpointing else 1.0
    return flops * factor / (hw.count * hw.tflops * 1e12 * MFU * 3600)


def compute_optimal_tokens(params: int) -> int:
    """≈ 20 training tokens per parameter."""
    return TOKENS_PER_PARAM * params


def kv_cache_bytes(model: ModelInfo, tokens: int, value_bytes: int = 2) -> float:
    """2 × layers × kv_heads × head_dim × bytes × tokens."""
    return 2 * model.layers * model.kv_heads * model.head_dim * value_bytes * tokens


def serve_weight_bytes(hw: HardwareProfile, four_bit: bool = False) -> float:
    """Bytes per parameter when serving: 0.5 in 4-bit, 2 in bf16 on a GPU, 4 in fp32 on cpu/mps."""
    if four_bit:
        return 0.5
    return 2.0 if hw.device == "cuda" else 4.0


def inference_memory_gb(model: ModelInfo, hw: HardwareProfile, tokens: int, four_bit: bool = False) -> float:
    """1.2 × weights + KV cache for one request of `tokens` tokens."""
    weights = model.params * serve_weight_bytes(hw, four_bit)
    value_bytes = 2 if hw.device == "cuda" else 4
    return (1.2 * weights + kv_cache_bytes(model, tokens, value_bytes)) / GB


def latency_ms(model: ModelInfo, hw: HardwareProfile, prompt_tokens: int, answer_tokens: int) -> float:
    """Prefill at 2·N FLOPs per prompt token (compute-bound) + decode reading the weights per token."""
    prefill = prompt_tokens * 2 * model.active_params / (hw.tflops * 1e12 * MFU)
    decode = answer_tokens * model.active_params * serve_weight_bytes(hw) / (hw.bandwidth_gbps * GB)
    return (prefill + decode) * 1000


def pow2_at_least(value: int) -> int:
    """The smallest power of two ≥ value."""
    return 1 << max(0, math.ceil(math.log2(max(1, value))))


def sig(value: float, digits: int = 3) -> float:
    """Round to significant digits, so estimates print (and serialise) stably."""
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def money(value: float) -> str:
    """$1.04, $27k, $1.2M."""
    if value >= 1e6:
        return f"${value / 1e6:.2g}M"
    if value >= 1e4:
        return f"${value / 1e3:.0f}k"
    if value >= 100:
        return f"${value:,.0f}"
    return f"${value:.2f}"


def hours(value: float) -> str:
    """0.01 GPU-h shown as "<0.01", 1234 as "1,234"."""
    if value < 0.01:
        return "<0.01"
    if value < 10:
        return f"{value:.2g}" if value < 1 else f"{value:.1f}"
    return f"{value:,.0f}"
