"""Trivial step kinds for engine tests: concatenate, uppercase, first line, pages, sleep, fail."""

from __future__ import annotations

import os
import time
from pathlib import Path

from adaptfile.engine import FunctionKind, StepContext, register
from adaptfile.plan.model import StepSpec

RUNS: list[str] = []  # step ids run in this process, in order


def _note_run(ctx: StepContext) -> None:
    RUNS.append(ctx.step_id)
    log = os.environ.get("ADAPT_TEST_RUN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(ctx.step_id + "\n")


def _only_upstream(ctx: StepContext) -> Path:
    (dep,) = ctx.upstream
    return ctx.upstream_output(dep, "out.txt")


def concat(ctx: StepContext) -> None:
    _note_run(ctx)
    sep = str(ctx.params.get("concat.sep", ""))
    texts = [ctx.input_path(rel).read_text(encoding="utf-8") for rel in ctx.inputs]
    ctx.output("out.txt").write_text(sep.join(texts), encoding="utf-8")
    ctx.log(f"concatenated {len(texts)} files")


def upper(ctx: StepContext) -> None:
    _note_run(ctx)
    text = _only_upstream(ctx).read_text(encoding="utf-8")
    mode = ctx.params.get("upper.mode", "upper")
    ctx.output("out.txt").write_text(text.upper() if mode == "upper" else text.lower(), encoding="utf-8")


def first_line(ctx: StepContext) -> None:
    _note_run(ctx)
    text = _only_upstream(ctx).read_text(encoding="utf-8")
    ctx.output("out.txt").write_text(text.splitlines()[0] if text else "", encoding="utf-8")


def pages(ctx: StepContext) -> None:
    _note_run(ctx)
    for index, rel in enumerate(ctx.inputs):
        (ctx.output("pages") / f"{index:04d}.txt").write_bytes(ctx.input_path(rel).read_bytes())
        ctx.progress(index + 1, len(ctx.inputs), rel)


def slow(ctx: StepContext) -> None:
    """Writes half its output, signals that it started, then sleeps before finishing."""
    _note_run(ctx)
    ctx.output("out.txt").write_text("partial", encoding="utf-8")
    marker = os.environ.get("ADAPT_TEST_STARTED")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(float(ctx.params.get("slow.seconds", 1.0)))
    text = _only_upstream(ctx).read_text(encoding="utf-8") if ctx.upstream else ""
    ctx.output("out.txt").write_text("slow:" + text, encoding="utf-8")


def fail(ctx: StepContext) -> None:
    _note_run(ctx)
    print("about to fail")
    raise RuntimeError("boom")


KINDS = (
    FunctionKind("test.concat", concat, ("out.txt",)),
    FunctionKind("test.upper", upper, ("out.txt",), params=("upper.mode",)),
    FunctionKind("test.first_line", first_line, ("out.txt",)),
    FunctionKind("test.pages", pages, ("pages/",)),
    FunctionKind("test.slow", slow, ("out.txt",)),
    FunctionKind("test.fail", fail, ("out.txt",)),
)


def register_kinds() -> None:
    for kind in KINDS:
        register(kind)


def chain(sep: str = "", mode: str = "upper", docs: str = "docs/*.md") -> tuple[StepSpec, ...]:
    """docs.concat → docs.upper → docs.first, plus an independent notes.concat."""
    return (
        StepSpec("docs.concat", "test.concat", params={"concat.sep": sep}, inputs=(docs,)),
        StepSpec("docs.upper", "test.upper", deps=("docs.concat",), params={"upper.mode": mode, "lora.r": 8}),
        StepSpec("docs.first", "test.first_line", deps=("docs.upper",)),
        StepSpec("notes.concat", "test.concat", inputs=("notes/*.txt",)),
    )


def spec_to_json(spec: StepSpec) -> dict:
    return {
        "id": spec.id,
        "kind": spec.kind,
        "deps": list(spec.deps),
        "params": spec.params,
        "inputs": list(spec.inputs),
    }


def spec_from_json(data: dict) -> StepSpec:
    return StepSpec(data["id"], data["kind"], tuple(data["deps"]), data["params"], tuple(data["inputs"]))


class Shout:
    """A class-based kind, as a plugin would write one: the registry instantiates it."""

    name = "test.shout"
    version = "1"
    params = None
    outputs = ("out.txt",)
    packages = ("click",)

    def run(self, ctx: StepContext) -> None:
        _note_run(ctx)
        ctx.output("out.txt").write_text("HEY", encoding="utf-8")
