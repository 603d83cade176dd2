"""The step protocol: what a step kind declares, and the context its `run()` receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

ProgressHook = Callable[[float, "float | None", str], None]


@runtime_checkable
class StepKind(Protocol):
    """A kind of build step. Implementations import heavy libraries inside `run()` only.

    - `name`: registry name, e.g. "knowledge.chunk".
    - `version`: bump it when the implementation changes its output; it enters the key.
    - `params`: the config fields (TOML paths) it reads; None means every param the plan gives it.
    - `outputs`: named outputs it writes under `ctx.out`; a trailing "/" marks a directory.
    - `packages`: distributions whose installed versions enter the key (e.g. "torch").
    - `volatile` (optional): outputs that are measurements (timings, memory); they are kept and
      shown but never compared, so they do not enter downstream keys, adapt.lock or --frozen.

    A step reports what it found wrong in its inputs (bad rows, unreadable files) with `ctx.warn()`:
    the findings are kept in the cache entry's meta.json, not in its outputs, so every build shows
    them again (also when the step is restored or fresh) and `--strict` can reject them, while keys,
    outputs and adapt.lock stay the same with or without `--strict`.
    """

    name: str
    version: str
    params: tuple[str, ...] | None
    outputs: tuple[str, ...]
    packages: tuple[str, ...]

    def run(self, ctx: StepContext) -> None: ...


@dataclass(frozen=True)
class FunctionKind:
    """A step kind made from a plain function: the easy way to write small kinds."""

    name: str
    run_fn: Callable[[StepContext], None]
    outputs: tuple[str, ...]
    version: str = "1"
    params: tuple[str, ...] | None = None
    packages: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()

    def run(self, ctx: StepContext) -> None:
        self.run_fn(ctx)


def output_names(kind: StepKind) -> dict[str, bool]:
    """The kind's outputs by name (without a trailing slash) → is it a directory."""
    return {name.rstrip("/"): name.endswith("/") for name in kind.outputs}


@dataclass
class StepContext:
    """What a running step sees: its params, inputs, upstream outputs and a staging directory."""

    step_id: str
    key: str
    params: dict[str, Any]
    root: Path  # the project root; inputs are relative to it
    inputs: tuple[str, ...]  # input names, sorted: project-relative paths ("@dir/..." outside it)
    upstream: dict[str, Path]  # upstream step id → directory holding its outputs (read-only)
    out: Path  # staging directory: write every declared output here
    work: Path  # per-key scratch space that survives interruption (checkpoints)
    log_file: TextIO
    on_progress: ProgressHook = field(default=lambda done, total, message: None)
    input_files: dict[str, str] = field(default_factory=dict)  # input name → path, when not under root
    findings: list[dict[str, Any]] = field(default_factory=list)  # what warn() recorded, for meta.json

    def output(self, name: str) -> Path:
        """Where to write the output called `name`."""
        return self.out / name.rstrip("/")

    def input_path(self, name: str) -> Path:
        """The file behind an input name."""
        return self.root / self.input_files.get(name, name)

    def upstream_output(self, step_id: str, name: str) -> Path:
        """An output of an upstream step, e.g. ctx.upstream_output("knowledge.chunk", "chunks.jsonl")."""
        return self.upstream[step_id] / name.rstrip("/")

    def log(self, message: str) -> None:
        """Append a line to the step's log (.adapt/logs/<step>.log)."""
        self.log_file.write(message.rstrip("\n") + "\n")
        self.log_file.flush()

    def warn(self, check: str, message: str, details: Sequence[str] = (), count: int = 1) -> None:
        """Record a finding about the step's inputs: `check` names the kind of problem ("bad-rows"),
        `message` says it in one line, `details` are the first few locations ("data/x.jsonl:5: why").
        The build shows it after the step and on every later build; `--strict` makes it an error."""
        finding = {"check": check, "message": message, "details": list(details), "count": count}
        self.findings.append(finding)
        self.log(f"finding: {message}" + "".join(f"\n  {line}" for line in details))

    def progress(self, done: float, total: float | None = None, message: str = "") -> None:
        """Report progress of a long step (batches embedded, training steps done)."""
        self.on_progress(done, total, message)
