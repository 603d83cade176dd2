"""The hardware catalog and the resolved training/serving hardware a plan is made for."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from adaptfile.config.model import AdaptConfig
from adaptfile.errors import ConfigError

CPU_TFLOPS_PER_CORE = 0.05  # fp32, a modest figure for AVX2/AVX-512 cores under PyTorch
CPU_BANDWIDTH_GBPS = 20.0  # memory bandwidth assumed for CPU decoding
MPS_TFLOPS = 10.0  # Apple-silicon GPU, a modest figure
MPS_BANDWIDTH_GBPS = 100.0


@dataclass(frozen=True)
class GpuSpec:
    """One catalog entry: a GPU's memory, bf16 dense TFLOP/s, typical price and kernel support."""

    name: str
    memory_gb: float
    tflops: float  # bf16 (fp16 where bf16 is missing) dense tensor-core peak
    usd_per_hour: float  # typical on-demand price per GPU
    four_bit: bool  # bitsandbytes 4-bit kernels available
    bf16: bool  # native bf16 support
    bandwidth_gbps: float  # memory bandwidth, for decode latency


CATALOG: tuple[GpuSpec, ...] = (
    GpuSpec("T4", 16, 65, 0.35, True, False, 320),
    GpuSpec("L4", 24, 121, 0.80, True, True, 300),
    GpuSpec("A10G", 24, 70, 1.01, True, True, 600),
    GpuSpec("RTX4090", 24, 165, 0.50, True, True, 1008),
    GpuSpec("A100-40GB", 40, 312, 1.29, True, True, 1555),
    GpuSpec("A100-80GB", 80, 312, 1.79, True, True, 2039),
    GpuSpec("H100-80GB", 80, 989, 2.99, True, True, 3350),
    GpuSpec("H200-141GB", 141, 989, 3.50, True, True, 4800),
)
KNOWN_NAMES = ", ".join(spec.name for spec in CATALOG)
_VENDOR_WORDS = re.compile(r"^(nvidia|geforce|tesla)+")


@dataclass(frozen=True)
class HardwareProfile:
    """One device kind as the estimator sees it: per-device memory, speed and price, times count."""

    device: str  # cpu | cuda | mps
    name: str  # catalog name, "cpu", "mps" or "custom GPU"
    count: int
    memory_gb: float  # per device
    tflops: float  # per device peak for the training precision
    usd_per_hour: float  # per device
    four_bit: bool
    bf16: bool
    bandwidth_gbps: float
    measured: bool = False  # figures come from this machine (cpu / mps)
    nodes: int = 1  # machines, each with `count` devices
    parallel: str = "auto"  # hardware.train.parallel: auto | ddp | fsdp

    @property
    def devices(self) -> int:
        """Training processes in all: devices per node × nodes."""
        return self.count * self.nodes

    @property
    def device_memory_gb(self) -> float:
        """Memory one training process may use: a GPU's own, or a CPU machine's shared by its processes."""
        return self.memory_gb if self.device == "cuda" else self.memory_gb / self.count

    def describe(self) -> str:
        """E.g. "1× L4 (24 GB)", "2 nodes × 4× A100-80GB (80 GB)" or "cpu (16 cores, 125 GB)"."""
        nodes = f"{self.nodes} nodes × " if self.nodes > 1 else ""
        if self.device == "cuda":
            return f"{nodes}{self.count}× {self.name} ({_num(self.memory_gb)} GB)"
        processes = f", {self.count} processes" if self.count > 1 else ""
        return f"{nodes}{self.name} ({_num(self.memory_gb)} GB{processes})"

    @property
    def hours_unit(self) -> str:
        """ "GPU-h" on CUDA, "h" (device hours) elsewhere."""
        return "GPU-h" if self.device == "cuda" else "h"

    def short(self) -> str:
        """E.g. "1× L4", "2 nodes × 8× H100-80GB" or "cpu, 16 cores"."""
        nodes = f"{self.nodes} nodes × " if self.nodes > 1 else ""
        if self.device == "cuda":
            return f"{nodes}{self.count}× {self.name}"
        return f"{nodes}{self.name}" + (f" × {self.count} processes" if self.count > 1 else "")


@dataclass(frozen=True)
class Hardware:
    """Training and serving hardware, plus notes the planner repeats as warnings."""

    train: HardwareProfile
    serve: HardwareProfile
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MachineInfo:
    """What this machine offers: total memory and CPU cores."""

    memory_gb: float
    cores: int


def measure_machine() -> MachineInfo:
    """Total memory and core count of this machine, from os.sysconf / os.cpu_count."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    return MachineInfo(memory_gb=round(total / 1e9, 1), cores=os.cpu_count() or 1)


def lookup_gpu(name: str, key: str = "hardware.train.gpu") -> tuple[GpuSpec, str | None]:
    """The catalog entry for a tolerant name ("a100-80gb", "A100", "rtx 4090"), and a note if guessed."""
    query = _VENDOR_WORDS.sub("", re.sub(r"[^a-z0-9]", "", name.lower()))
    exact = [s for s in CATALOG if query in _spellings(s)]
    if exact:
        return exact[0], None
    family = [s for s in CATALOG if query and query == _family(s)]
    if family:
        smallest = min(family, key=lambda s: s.memory_gb)
        note = None
        if len(family) > 1:
            note = (
                f"{key} = {name!r} taken as {smallest.name}, the smaller variant; "
                f"write e.g. {max(family, key=lambda s: s.memory_gb).name!r} if yours has more memory"
            )
        return smallest, note
    raise ConfigError(
        f"{key}: unknown GPU {name!r}",
        hint=f"use one of: {KNOWN_NAMES}; or set memory_gb, tflops and usd_per_hour to describe another",
    )


def resolve_hardware(config: AdaptConfig, machine: MachineInfo | None = None) -> Hardware:
    """Turn [hardware] into training and serving profiles; unknown GPUs are ConfigErrors."""
    machine = machine or measure_machine()
    notes: list[str] = []
    t = config.hardware.train
    train = _profile(
        "hardware.train", t.device, t.gpu, t.count, t.memory_gb, t.tflops, t.usd_per_hour, machine, notes
    )
    if t.device == "mps" and (t.count > 1 or t.nodes > 1):
        raise ConfigError(
            f"hardware.train.count = {t.count}, nodes = {t.nodes} on device 'mps': one Apple GPU trains alone",
            hint='set hardware.train.count = 1 and nodes = 1, or train on "cuda" / "cpu"',
        )
    train = dataclasses.replace(train, nodes=t.nodes, parallel=t.parallel)
    s = config.hardware.serve
    serve = _profile("hardware.serve", s.device, s.gpu, 1, s.memory_gb, None, None, machine, notes)
    return Hardware(train=train, serve=serve, notes=tuple(notes))


def _profile(
    table: str,
    device: str,
    gpu: str | None,
    count: int,
    memory_gb: float | None,
    tflops: float | None,
    usd_per_hour: float | None,
    machine: MachineInfo,
    notes: list[str],
) -> HardwareProfile:
    if device == "cuda":
        if gpu is None and not (memory_gb and tflops):
            raise ConfigError(
                f"{table}.device = 'cuda' but {table}.gpu is not set",
                hint=f"set {table}.gpu to one of: {KNOWN_NAMES} (or set memory_gb and tflops)",
            )
        spec = GpuSpec("custom GPU", 0, 0, 0.0, True, True, 1000)
        if gpu is not None:
            spec, note = lookup_gpu(gpu, f"{table}.gpu")
            if note:
                notes.append(note)
        return HardwareProfile(
            device="cuda",
            name=spec.name,
            count=count,
            memory_gb=memory_gb or spec.memory_gb,
            tflops=tflops or spec.tflops,
            usd_per_hour=spec.usd_per_hour if usd_per_hour is None else usd_per_hour,
            four_bit=spec.four_bit,
            bf16=spec.bf16,
            bandwidth_gbps=spec.bandwidth_gbps,
        )
    if gpu is not None:
        notes.append(f"{table}.gpu = {gpu!r} is ignored because {table}.device = {device!r}")
    if device == "mps":
        return HardwareProfile(
            device="mps",
            name="mps",
            count=1,
            memory_gb=memory_gb or round(machine.memory_gb * 0.75, 1),
            tflops=tflops or MPS_TFLOPS,
            usd_per_hour=usd_per_hour or 0.0,
            four_bit=False,
            bf16=False,
            bandwidth_gbps=MPS_BANDWIDTH_GBPS,
            measured=True,
        )
    return HardwareProfile(
        device="cpu",
        name=f"cpu, {machine.cores} cores",
        count=count,
        memory_gb=memory_gb or machine.memory_gb,
        tflops=tflops or round(machine.cores * CPU_TFLOPS_PER_CORE, 3),
        usd_per_hour=usd_per_hour or 0.0,
        four_bit=False,
        bf16=False,
        bandwidth_gbps=CPU_BANDWIDTH_GBPS,
        measured=True,
    )


def _family(spec: GpuSpec) -> str:
    return re.sub(r"[^a-z0-9]", "", spec.name.lower().split("-")[0])


def _spellings(spec: GpuSpec) -> set[str]:
    full = re.sub(r"[^a-z0-9]", "", spec.name.lower())
    family = _family(spec)
    memory = _num(spec.memory_gb)
    names = {full, f"{family}{memory}", f"{family}{memory}gb", f"{family}{memory}g"}
    if family == "rtx4090":
        names |= {"4090", "409024gb"}
    return names


def _num(value: float) -> str:
    return f"{value:g}"
