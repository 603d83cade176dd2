"""Multi-device training: relaunch the step's recipe under torchrun (DDP or FSDP2; c10d rendezvous across nodes)."""

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
RDZV_TIMEOUT_ENV = "ADAPT_RDZV_TIMEOUT"  # seconds a node waits for the others at the rendezvous
RDZV_TIMEOUT = 600
SHARDED = ("fsdp", "fsdp_offload")
_RDZV_FAILURES = ("RendezvousTimeoutError", "RendezvousConnectionError", "RendezvousClosedError")


def in_worker() -> bool:
    """True inside a process torchrun started for a step (it trains; it never relaunches)."""
    return os.environ.get(WORKER_ENV) == "1"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def wrap_classes(model: Any, step: str) -> list[str]:
    """The model's own repeated blocks (`_no_split_modules`), the units FSDP shards and gathers one at a time."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    blocks = list(getattr(base, "_no_split_modules", None) or [])
    if not blocks:
        raise StepFailed(
            f"{step}: hardware.train.parallel chose FSDP, but {type(base).__name__} declares no "
            "_no_split_modules (the repeated blocks FSDP wraps)",
            hint='set hardware.train.parallel = "ddp" (every device holds the whole model), or use a model '
            "whose transformers class lists _no_split_modules",
        )
    return blocks


def distributed_arguments(
    device: str, devices: int, parallel: str, wrap: list[str] | None = None
) -> dict[str, Any]:
    """TrainingArguments for the launched processes: gloo on CPU, nccl on CUDA; DDP, or FSDP2 full sharding
    of the model's own blocks with full-state-dict checkpoints (optionally parameters offloaded to the CPU)."""
    args: dict[str, Any] = {}
    if devices > 1:
        args["ddp_backend"] = "gloo" if device == "cpu" else "nccl"
    if parallel in SHARDED:
        args["fsdp"] = True
        args["fsdp_config"] = {
            "version": 2,
            "transformer_layer_cls_to_wrap": list(wrap or []),
            "reshard_after_forward": True,
            "state_dict_type": "FULL_STATE_DICT",
            "cpu_offload": parallel == "fsdp_offload",
        }
    elif devices > 1:
        args["ddp_find_unused_parameters"] = False
    return args


def rendezvous_endpoint(step: str) -> str:
    """host:port of the c10d rendezvous for a multi-node run, from the launcher's standard variables."""
    endpoint = os.environ.get("ADAPT_RDZV_ENDPOINT")
    if endpoint:
        return endpoint
    host = os.environ.get("MASTER_ADDR")
    if not host:
        raise StepFailed(
            f"{step}: hardware.train.nodes > 1 but no rendezvous endpoint is set",
            hint="export MASTER_ADDR (and MASTER_PORT, default 29500) on every node — Slurm, SkyPilot and "
            "Kubernetes recipes in docs/scale.md — or ADAPT_RDZV_ENDPOINT=host:port",
        )
    return f"{host}:{os.environ.get('MASTER_PORT', '29500')}"


def torchrun_command(ctx: StepContext, per_node: int, nodes: int, spec: Path) -> list[str]:
    """torchrun: standalone on one node; c10d rendezvous at MASTER_ADDR:MASTER_PORT across several."""
    command = [sys.executable, "-m", "torch.distributed.run"]
    if nodes == 1:
        command += ["--standalone"]
    else:
        timeout = int(os.environ.get(RDZV_TIMEOUT_ENV, RDZV_TIMEOUT))
        command += [f"--nnodes={nodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rendezvous_endpoint(ctx.step_id)}",
                    f"--rdzv-id={ctx.key[:16]}", f"--rdzv-conf=join_timeout={timeout}", "--max-restarts=0"]  # fmt: skip
        if os.environ.get("NODE_RANK"):
            command.append(f"--node-rank={os.environ['NODE_RANK']}")
    return [*command, f"--nproc-per-node={per_node}", "-m", "adaptfile.train.worker", str(spec)]


def launch_plan(ctx: StepContext, method: str, per_node: int, nodes: int, device: str,
                parallel: str) -> dict[str, Any]:  # fmt: skip
    """The command and configuration of the launch, recorded in metrics.json for inspection."""
    command = torchrun_command(ctx, per_node, nodes, ctx.work / "launch" / "spec.json")
    return {
        "launcher": "torchrun",
        "processes": per_node * nodes,
        "nodes": nodes,
        "strategy": parallel,
        "training_arguments": distributed_arguments(device, per_node * nodes, parallel),
        "command": [*command[1:-1], "<spec.json>"],
        "_argv": command,
    }


def launch_distributed(ctx: StepContext, method: str, per_node: int, nodes: int, device: str,
                       parallel: str) -> dict[str, Any]:  # fmt: skip
    """Run the recipe in per_node × nodes processes; report their progress; return the launch record."""
    plan = launch_plan(ctx, method, per_node, nodes, device, parallel)
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
        if any(failure in tail for failure in _RDZV_FAILURES):
            endpoint = next(a.split("=", 1)[1] for a in argv if a.startswith("--rdzv-endpoint="))
            raise StepFailed(
                f"{ctx.step_id}: this node could not meet the other {nodes - 1} node(s) at the rendezvous "
                f"{endpoint} within {os.environ.get(RDZV_TIMEOUT_ENV, RDZV_TIMEOUT)} s",
                hint=f"start `adapt build` on all {nodes} nodes (hardware.train.nodes), check that {endpoint} "
                f"(MASTER_ADDR:MASTER_PORT) is reachable from every node, or raise {RDZV_TIMEOUT_ENV}",
            )
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
