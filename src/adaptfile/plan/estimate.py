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
FULL_METHODS = ("full", "cpt", "pretrain")  # every base weight trains
FULL_BYTES = 16.0  # per trained parameter: fp32 weight, fp32 gradient, two fp32 AdamW moments
QLORA_BYTES = 0.55  # per frozen parameter in NF4 with double quantization (+ the quantization constants)
ADAPTER_BYTES = 16.0  # per trainable adapter parameter: weight, gradient, AdamW moments, master copy
# Activation values kept for the backward pass per token and layer on a GPU, in the compute precision:
# 26 × hidden (norms, q/k/v after rotary and KV repetition, attention output, residuals, LoRA inputs) + 2.6 ×
# MLP width (gate, up, activation, product), and LOGIT_BYTES per token × vocabulary at 16 bit. Not yet
# measured on a GPU (bench/gpu_check.sh prints those rows): this count is above what CPU runs allocate
# (below), and stays until GPU rows replace it.
ACT_VALUES_HIDDEN = 26
ACT_VALUES_INTER = 2.6
ACT_VALUES_CHECKPOINTED = 1  # with gradient checkpointing only each layer's input stays
LOGIT_BYTES = 6  # per token × vocab at 16-bit: the logits, log-softmax and its gradient (fp32 doubles it)
# On a CPU (fp32), fitted by least squares to the peak allocated by LoRA and full fine-tuning of SmolLM2-135M,
# Qwen2.5-0.5B and Llama-3.2-1B at sequence 512, batch 1-4 (bench/memory_estimate.py run with glibc's
# MALLOC_MMAP_THRESHOLD_ fixed, so that freed memory leaves the process and the peak RSS is the allocated
# peak): 6.3 values × hidden + 1.9 × MLP width per token and layer, 21 bytes per token × vocabulary (the fp32
# logits, their log-softmax and both gradients: about five copies), and 0.2 GB of bookkeeping.
CPU_ACT_VALUES_HIDDEN = 6.3
CPU_ACT_VALUES_INTER = 1.9
CPU_LOGIT_BYTES = 21
CPU_ACT_FIXED = 0.2e9
# The peak RSS over the allocated peak, for frozen-base methods: glibc keeps the activation blocks freed
# during the backward pass, and they are not all reused by the next step (fitted: 1.75 over the LoRA rows,
# applied to the whole activation estimate, CPU_ACT_FIXED included, as it was fitted).
# Full fine-tuning's gradients, allocated as the activations are freed, reuse those blocks: no hold.
CPU_ALLOCATOR_HOLD = 1.75
RECOMPUTE = 4 / 3  # gradient checkpointing reruns the forward pass
TOKENS_PER_PARAM = 20  # compute-optimal pre-training (Chinchilla)
# A narrow model runs far below MFU: its matrix products are a few dozen wide and memory-bound work (softmax
# over the vocabulary, norms, the optimizer) weighs more. A 2-layer, 64-wide scratch model trained at ≈0.4 ms a
# token on 2 CPU cores where 6·N FLOPs at MFU promised ≈0.06 ms; efficiency is taken to grow with the width up
# to FULL_WIDTH (64 wide: a quarter). Models this narrow exist only as scratch models; real ones are wider.
FULL_WIDTH = 256
# Seconds a training step spends besides its optimizer steps: importing torch and transformers, building or
# loading the model, tokenizing and packing the data, the eval loss before and after, saving. Measured 4-10 s
# (median ≈6) for scratch models on 2 CPU cores; with STEP_OVERHEAD_S it is why tiny runs took 5-11× their
# FLOP estimate.
RUN_START_S = 5.0
# Seconds each optimizer step costs besides its FLOPs (the Trainer's bookkeeping and logging, the optimizer,
# launching many small kernels): 60 steps of one 111-token row took 0.17 s each where their FLOPs need 0.04 s.
STEP_OVERHEAD_S = 0.1
LORA_FLOP_SHARE = 2 / 3  # no weight gradients for frozen weights
_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def precision_bytes(precision: str) -> int:
    """Bytes per parameter or activation value in a precision."""
    return 4 if precision == "fp32" else 2


def load_precision(method: str, precision: str) -> str:
    """The dtype the base weights load in: fp32 master weights for full-parameter methods (the optimizer
    updates them; mixed precision casts per op), the training precision for frozen LoRA / prefix bases,
    and 4-bit NF4 storage for QLoRA. The loader (train/models.py) and the estimator both read this."""
    if method in FULL_METHODS:
        return "fp32"
    if method == "qlora":
        return "nf4"
    return precision


def base_bytes(method: str, precision: str) -> float:
    """Bytes per base parameter held in training: 16 for full-parameter methods, the load precision's width
    for LoRA / prefix (frozen, no gradient or optimizer state), 0.55 for QLoRA."""
    if method in FULL_METHODS:
        return FULL_BYTES
    loaded = load_precision(method, precision)
    return QLORA_BYTES if loaded == "nf4" else float(precision_bytes(loaded))


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


def lora_dropout_inputs(model: ModelInfo, targets: list[str] | str) -> int:
    """Values per token and layer that LoRA dropout keeps for the backward pass: each adapted matrix's
    lora_A saves its own dropped copy of the input (measured on SmolLM2-135M: +0.45 GB allocated at batch 1 ×
    512 for dropout 0.05, where this count gives 0.38)."""
    shapes, _ = lora_shapes(model, targets)
    return sum(d_in * copies for d_in, _, copies in shapes)


def prefix_params(model: ModelInfo, virtual_tokens: int) -> int:
    """Prefix tuning: a key and a value vector per virtual token in every layer."""
    return virtual_tokens * model.layers * 2 * model.kv_heads * model.head_dim


def activation_bytes(model: ModelInfo, batch: int, seq: int, checkpointing: bool, precision: str,
                     device: str = "cuda", logit_tokens: int | None = None,
                     dropout_inputs: float = 0.0) -> float:  # fmt: skip
    """batch × seq × layers × (26·hidden + 2.6·MLP width) values, plus the logits the loss needs (for
    `logit_tokens`, default every token: a recipe that scores only target tokens computes only theirs); with
    checkpointing one layer's worth plus each layer's input. On a CPU the measured coefficients (6.3, 1.9,
    21 bytes per logit, 0.2 GB) instead: what is allocated, before the allocator's hold. LoRA dropout adds
    `dropout_inputs` values per token and layer (`lora_dropout_inputs`) plus a byte of mask each."""
    tokens = batch * seq
    scored = tokens if logit_tokens is None else min(tokens, logit_tokens)
    value = precision_bytes(precision)
    on_cpu = device == "cpu"
    per_hidden, per_inter = (
        (CPU_ACT_VALUES_HIDDEN, CPU_ACT_VALUES_INTER) if on_cpu else (ACT_VALUES_HIDDEN, ACT_VALUES_INTER)
    )
    per_layer = per_hidden * model.hidden + per_inter * model.intermediate
    per_layer += dropout_inputs * (value + 1) / value  # the dropped copies, and a mask byte each
    if checkpointing:
        layers = tokens * (model.layers * ACT_VALUES_CHECKPOINTED * model.hidden + per_layer) * value
    else:
        layers = tokens * model.layers * per_layer * value
    if on_cpu:
        return layers + scored * model.vocab * CPU_LOGIT_BYTES + CPU_ACT_FIXED
    return layers + scored * model.vocab * LOGIT_BYTES * value / 2


PARALLEL = ("single", "ddp", "fsdp", "fsdp_offload")  # how training spreads over devices, simplest first
GATHERED_BLOCKS = 2  # FSDP holds a block's full weights while the next one is prefetched


@dataclass(frozen=True)
class Memory:
    """A training memory estimate per device, in GB."""

    weights_gb: float  # frozen or trained base weights (with optimizer states for full)
    trainable_gb: float  # adapter weights, gradients and optimizer states
    activations_gb: float
    parallel: str = "single"  # one of PARALLEL

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
    parallel: str = "single",
    logit_tokens: int | None = None,
    dropout_inputs: float = 0.0,
) -> Memory:
    """Per device: base_bytes × params (full 16; LoRA / prefix the precision; QLoRA 0.55) + 16 per adapter
    parameter + activations. DDP replicates all of it; FSDP divides weights and optimizer state by the devices
    and adds the blocks it gathers; FSDP with CPU offload keeps only the gathered blocks on the device."""
    device = getattr(hw, "device", "cuda")
    acts = (
        activation_bytes(model, batch, seq, checkpointing, precision, device, logit_tokens, dropout_inputs)
        / GB
    )
    if device == "cpu" and method not in FULL_METHODS:
        acts *= CPU_ALLOCATOR_HOLD  # the process's peak RSS: see CPU_ALLOCATOR_HOLD
    weights = base_bytes(method, precision) * model.params / GB
    adapters = 0.0 if method in FULL_METHODS else ADAPTER_BYTES * trainable / GB  # full: in base_bytes
    if parallel in ("fsdp", "fsdp_offload"):
        gathered = GATHERED_BLOCKS * model.params / model.layers * precision_bytes(precision) / GB
        if parallel == "fsdp_offload":
            return Memory(gathered, 0.0, acts, parallel)
        shards = max(1, getattr(hw, "devices", hw.count))
        return Memory(weights / shards + gathered, adapters / shards, acts, parallel)
    return Memory(weights, adapters, acts, parallel)


def training_flops(method: str, model: ModelInfo, tokens: float) -> float:
    """6·N·D; PEFT methods about 2/3 of that. N counts the parameters active per token."""
    flops = 6 * model.active_params * tokens
    return flops * LORA_FLOP_SHARE if method in ("lora", "qlora", "prefix") else flops


def wall_hours(flops: float, hw: HardwareProfile, checkpointing: bool = False) -> float:
    """FLOPs / (P × peak FLOP/s × MFU × 3600), times the recompute of gradient checkpointing."""
    factor = RECOMPUTE if checkpointing else 1.0
    return flops * factor / (hw.devices * hw.tflops * 1e12 * MFU * 3600)


def width_efficiency(hidden: int) -> float:
    """The share of MFU a model of this width reaches: 1 from FULL_WIDTH up, hidden / FULL_WIDTH below."""
    return min(1.0, hidden / FULL_WIDTH)


def run_hours(flops: float, hw: HardwareProfile, checkpointing: bool, hidden: int, steps: int) -> float:
    """A training step's wall time: the FLOPs at the device's MFU (less for a narrow model, see FULL_WIDTH),
    plus RUN_START_S to start the run and STEP_OVERHEAD_S per optimizer step."""
    fixed = RUN_START_S + steps * STEP_OVERHEAD_S
    return wall_hours(flops, hw, checkpointing) / width_efficiency(hidden) + fixed / 3600


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
