"""Multi-device training: relaunch the step's recipe under torchrun (DDP; FSDP for full-parameter methods)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext
from adaptfile.errors import StepFailed

WORKER_ENV = "ADAPT_TRAIN_WORKER"
FSDP_METHODS = ("full", "cpt", "pretrain")


def in_worker() -> bool:
    """True inside a process torchrun started for a step (it trains; it never relaunches)."""
    return os.environ.get(WORKER_ENV) == "1"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def distributed_arguments(method: str, device: str, devices: int) -> dict[str, Any]:
    """TrainingArguments for the launched processes: gloo on CPU, nccl on CUDA; FSDP for full weights."""
    if devices <= 1:
        return {}
    args: dict[str, Any] = {
        "ddp_backend": "gloo" if device == "cpu" else "nccl",
        "ddp_find_unused_parameters": False,
    }
    if method in FSDP_METHODS and device == "cuda":
        args["fsdp"] = "full_shard auto_wrap"
        args["fsdp_config"] = {"transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"]}
    return args


def launch_plan(ctx: StepContext, method: str, devices: int, device: str) -> dict[str, Any]:
    """The command and configuration of the launch, recorded in metrics.json for inspection."""
    spec = ctx.work / "launch" / "spec.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={devices}",
               "-m", "adaptfile.train.worker", str(spec)]  # fmt: skip
    return {
        "launcher": "torchrun",
        "processes": devices,
        "strategy": "fsdp" if method in FSDP_METHODS and device == "cuda" else "ddp",
        "training_arguments": distributed_arguments(method, device, devices),
        "command": [*command[1:-1], "<spec.json>"],
        "_argv": command,
    }


def launch_distributed(ctx: StepContext, method: str, devices: int, device: str) -> dict[str, Any]:
    """Run the recipe in `devices` processes; report their progress; return the launch record."""
    plan = launch_plan(ctx, method, devices, device)
    argv = plan.pop("_argv")
    launch_dir = ctx.work / "launch"
    launch_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "method": method,
        "step_id": ctx.step_id,
        "key": ctx.key,
        "params": ctx.params,
        "root": str(ctx.root),
        "upstream": {k: str(v) for k, v in ctx.upstream.items()},
        "out": str(ctx.out),
        "work": str(ctx.work),
        "launch": plan,
    }
    (launch_dir / "spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True))
    progress = launch_dir / "progress.jsonl"
    progress.unlink(missing_ok=True)
    env = {**os.environ, WORKER_ENV: "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    ctx.log(f"launching: {' '.join(argv)}")
    with open(launch_dir / "workers.log", "w") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while process.poll() is None:
                time.sleep(0.5)
                _relay_progress(progress, ctx)
        except KeyboardInterrupt:
            os.killpg(process.pid, signal.SIGINT)  # the workers checkpoint, then stop
            process.wait()
            raise
    _relay_progress(progress, ctx)
    if process.returncode:
        tail = (launch_dir / "workers.log").read_text(errors="replace")[-2000:]
        ctx.log(tail)
        if process.returncode in (-signal.SIGINT, 130):
            raise KeyboardInterrupt(f"{ctx.step_id}: workers interrupted; checkpoint saved")
        raise StepFailed(
            f"{ctx.step_id}: distributed training exited with {process.returncode}",
            hint=f"see {launch_dir / 'workers.log'}",
        )
    return plan


def _relay_progress(path: Path, ctx: StepContext) -> None:
    if path.exists():
        lines = path.read_text().splitlines()
        if lines:
            done, total, message = json.loads(lines[-1])
            ctx.progress(done, total, message)
