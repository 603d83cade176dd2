"""Benchmark: the quickstart's fine-tuned rung trained on its serving prompts vs trained without context.

Reads whatever examples/quickstart/adapt.toml says (model, data, seeds). Both arms build the same plan
in one copy of the project, with the same seed, and are evaluated the same way: on the eval set, served
with the rung's real prompt (its retrieved passages, no demonstrations). Only the training prompts differ:
  served  — each example rendered as served: the passages the index retrieves for it (this issue);
  bare    — each example rendered with no passages, the question alone (the behaviour before it).

    PYTHONPATH=src .venv/bin/python bench/train_prompts_quickstart.py [--project examples/quickstart]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

SFT = ("lora", "qlora", "prefix", "full")
SHOWN = ("answer_nll", "exact_match", "f1", "hit_rate", "prompt_tokens")


def adapt(root: Path, *args: str) -> str:
    """`adapt -C root ARGS` in this process (so the bare arm's training sees its patched renderer)."""
    from click.testing import CliRunner

    from adaptfile.cli import cli

    result = CliRunner().invoke(cli, ["-C", str(root), *args], standalone_mode=False)
    if result.exception is not None:
        raise SystemExit(f"adapt {' '.join(args)} failed: {result.exception}\n{result.stdout}{result.stderr}")
    return result.stdout


def fine_tuned_rung(root: Path) -> tuple[str, str]:
    """(variant, its training step): the ladder's fine-tuned rung (else the first fine-tuned variant)."""
    plan = json.loads(adapt(root, "plan", "--json"))
    found = [
        (v["rung"], v["name"], s)
        for v in plan["variants"]
        for s in v["steps"]
        if s.removesuffix(".train") in SFT
    ]
    if not found:
        raise SystemExit(f"{root}/adapt.toml: the plan fine-tunes no variant")
    _, name, step = sorted(found, key=lambda f: not f[0])[0]
    return name, step


def arm(root: Path, variant: str, step: str, force: bool) -> dict[str, Any]:
    started = time.perf_counter()
    adapt(root, "build", *(["--force", step] if force else []), f"eval.{variant}")
    results = json.loads((root / "build" / f"eval.{variant}" / "results.json").read_text())
    trained = json.loads((root / "build" / step / "metrics.json").read_text())
    prompts = [json.loads(line) for line in (root / "build" / step / "train_prompts.jsonl").open()]
    return {
        "metrics": results["metrics"],
        "rows": results["rows"],
        "train_eval_loss": trained["eval_loss"],
        "train_prompt_tokens": sum(p["prompt_tokens"] for p in prompts) / len(prompts),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--project", type=Path, default=Path(__file__).resolve().parents[1] / "examples/quickstart"
    )
    args = parser.parse_args()
    from adaptfile.train import data as td

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(args.project, root, ignore=shutil.ignore_patterns("build", ".adapt"))
        variant, step = fine_tuned_rung(root)
        served = arm(root, variant, step, force=False)
        recall_file = root / "build/rag.train_context/recall.json"
        recall = json.loads(recall_file.read_text()) if recall_file.exists() else None
        td.read_contexts = lambda directory: {}  # the bare arm: examples rendered without their passages
        bare = arm(root, variant, step, force=True)
    seed = tomllib.loads((args.project / "adapt.toml").read_text())["project"].get("seed", 0)
    print(f"project {args.project.name}: rung {variant} ({step}), seed {seed}, {served['rows']} eval rows")
    if recall:
        print(
            f"training retrieval recall: {recall['gold_retrieved']}/{recall['with_source']} at top {recall['top_k']}"
        )
    print(
        f"{'training prompts':<28}"
        + "".join(f"{m:>14}" for m in SHOWN)
        + f"{'train loss':>12}{'train tok':>11}"
    )
    for label, result in (("served (passages)", served), ("bare (no context, before)", bare)):
        cells = "".join(f"{_cell(result['metrics'].get(m)):>14}" for m in SHOWN)
        print(f"{label:<28}{cells}{result['train_eval_loss']:>12.4f}{result['train_prompt_tokens']:>11.1f}")


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
