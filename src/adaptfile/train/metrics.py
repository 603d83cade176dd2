"""Training metrics: loss curve, eval loss, tokens/s, peak memory and wall time, with a loss-curve PNG."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

from adaptfile.plan.estimate import GB

MIN_IMPROVEMENT = 0.05  # eval loss must fall by at least 5% of its start, else "the model barely learned"


def barely_learned(start: float | None, end: float | None, method: str = "the model") -> str | None:
    """A warning when the eval loss fell by less than MIN_IMPROVEMENT of where it started (or rose): the
    training moved the model too little to change its answers. None when it learned, or was not measured."""
    if not isinstance(start, int | float) or not isinstance(end, int | float) or start <= 0:
        return None
    if (start - end) / start >= MIN_IMPROVEMENT:
        return None
    change = (end - start) / start
    return (
        f"{method}: the model barely learned: eval loss {start:.2f} → {end:.2f} ({change:+.1%}; a step that lowers "
        f"it by less than {MIN_IMPROVEMENT:.0%} warns); more epochs or a higher learning rate"
    )


def start_peak(device: str) -> float:
    """Start measuring a training step's peak memory; returns the baseline `peak_memory_gb` subtracts.
    CUDA: the allocator's peak is reset and the baseline is what is allocated now. CPU on Linux: the
    kernel's peak RSS (VmHWM) is reset through /proc/self/clear_refs and the baseline is the RSS now, so
    earlier steps' peaks in the same process do not count (memory they freed but the allocator kept can
    be reused without growing the RSS: the figure may then read low). Elsewhere: 0, the lifetime peak."""
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / GB
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS") * 1024 / GB
    except (OSError, ValueError):
        return 0.0


def peak_memory_gb(device: str, baseline: float = 0.0) -> float:
    """The peak memory over `baseline` (from `start_peak`): CUDA's allocated peak, else the peak resident
    set size (the lifetime peak when there is no baseline)."""
    if device == "cuda":
        import torch

        return max(0.0, torch.cuda.max_memory_allocated() / GB - baseline)
    if baseline:
        return max(0.0, _status_kb("VmHWM") * 1024 / GB - baseline)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, kB on Linux
    return rss / GB * (1 if sys.platform == "darwin" else 1024)


def _status_kb(field: str) -> int:
    """A kB field of /proc/self/status (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise ValueError(f"no {field} in /proc/self/status")


def loss_curve(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(optimizer step, training loss) pairs from a Trainer's log history."""
    return [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]


def write_loss_png(curve: list[tuple[int, float]], eval_points: list[tuple[int, float]], path: Path,
                   title: str) -> None:  # fmt: skip
    """The loss curve as a PNG (matplotlib, headless); deterministic bytes for the same numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if curve:
        ax.plot([s for s, _ in curve], [v for _, v in curve], label="train loss")
    if eval_points:
        ax.plot([s for s, _ in eval_points], [v for _, v in eval_points], "o--", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    path.write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n", encoding="utf-8")
