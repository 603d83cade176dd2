"""The leaderboard: variants' metrics, the best one, the goal verdict, estimate vs measured training."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from adaptfile.evaluate.metrics import LOWER_IS_BETTER, TASK_METRICS, meets
from adaptfile.train.metrics import barely_learned

REPORT_SCHEMA = 1


def make_report(
    task: str,
    results: list[dict[str, Any]],
    goal: dict[str, Any] | None,
    ladder: list[str],
    training: list[dict[str, Any]],
    train_retrieval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report object `adapt eval --json` prints; `results` are eval.variant results.json, cheapest first;
    `train_retrieval`: rag.train_context's recall.json (was the gold passage retrieved for training examples)."""
    order = ranking(task, goal["metric"] if goal else None)
    variants = [
        {"name": r["variant"], "strategies": r["strategies"], "metrics": r["metrics"]} for r in results
    ]
    best, decided_by = rank(variants, order)
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "task": task,
        "metric": order[0],
        "ranking": order,
        "decided_by": decided_by,
        "variants": variants,
        "best": best,
        "goal": None,
        "training": training,
        "train_retrieval": train_retrieval,
    }
    if goal:
        report["goal"] = goal_verdict(goal, variants, ladder)
    return report


def ranking(task: str, goal_metric: str | None) -> list[str]:
    """The metrics that rank variants, in order: the goal's (if any), the task's, then answer_nll.
    A tie on one falls to the next (SQuAD-style exact match is often 0 for every variant of a small
    model while token F1 and answer_nll still tell them apart)."""
    order = [goal_metric] if goal_metric else []
    for name in (*TASK_METRICS.get(task, ("rouge_l",)), "answer_nll"):
        if name not in order:
            order.append(name)
    return order


def rank(variants: list[dict[str, Any]], order: list[str]) -> tuple[str | None, str | None]:
    """(best variant, the metric that decided): the first metric of `order` on which the best beats the
    runner-up; None when every metric ties (then the cheaper variant, listed first, wins) or there is one
    variant. A variant without the first metric is never best."""
    scored = [v for v in variants if _value(v, order[0]) is not None]
    if not scored:
        return None, None

    def key(variant: dict[str, Any]) -> tuple[float, ...]:
        values = (_value(variant, m) for m in order)
        return tuple(
            math.inf if x is None else (x if m in LOWER_IS_BETTER else -x)
            for m, x in zip(order, values, strict=True)
        )

    ordered = sorted(scored, key=key)  # stable: equal keys keep the cheaper variant first
    best = ordered[0]
    if (
        len(ordered) == 1
    ):  # the only variant with the first metric: that metric decided, if there was a choice
        return best["name"], (order[0] if len(variants) > 1 else None)
    decided = next((m for m, a, b in zip(order, key(best), key(ordered[1]), strict=True) if a != b), None)
    return best["name"], decided


def _value(variant: dict[str, Any], metric: str) -> float | None:
    value = variant["metrics"].get(metric)
    if not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def best_reason(report: dict[str, Any]) -> str:
    """Why the report's best variant is best: the metric that decided, and the ties before it."""
    order = report.get("ranking") or [report["metric"]]
    decided = report.get("decided_by") if "ranking" in report else report["metric"]
    if report.get("best") is None:
        return f"no variant has {order[0]}"
    if len(report["variants"]) == 1:
        return "the only variant evaluated"
    if decided is None:
        return f"tied on {', '.join(order)}; a full tie goes to the cheaper variant"
    direction = "lower" if decided in LOWER_IS_BETTER else "higher"
    tied = order[: order.index(decided)]
    return f"decided by {decided}, {direction} is better" + (
        f", after a tie on {', '.join(tied)}" if tied else ""
    )


def goal_verdict(goal: dict[str, Any], variants: list[dict[str, Any]], ladder: list[str]) -> dict[str, Any]:
    """Which rung (cheapest first) met the target, or that none of the evaluated ones did."""
    metric, target = goal["metric"], float(goal["target"])
    by_name = {v["name"]: v for v in variants}
    evaluated = [name for name in ladder if name in by_name]
    met_by = next((n for n in evaluated if meets(metric, by_name[n]["metrics"].get(metric), target)), None)
    return {
        "metric": metric,
        "target": target,
        "direction": "lower" if metric in LOWER_IS_BETTER else "higher",
        "met": met_by is not None,
        "met_by": met_by,
        "evaluated_rungs": evaluated,
        "skipped_rungs": [n for n in ladder if n not in by_name],
    }


def training_rows(estimates: dict[str, Any], measured: dict[str, Path]) -> list[dict[str, Any]]:
    """Estimate beside measurement for each trained model (metrics.json of its train step)."""
    rows = []
    for step_id, directory in sorted(measured.items()):
        method = step_id.removesuffix(".train")
        try:
            m = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        est = estimates.get(method, {})
        rows.append(
            {
                "method": method,
                "estimate": {
                    "memory_gb": est.get("memory_gb"),  # the plan's, at the planned batch and length
                    "preflight_memory_gb": _round(m.get("estimated_memory_gb")),  # for the batches that ran
                    "wall_seconds": round(est["wall_hours"] * 3600, 3) if "wall_hours" in est else None,
                },
                "measured": {
                    "peak_memory_gb": _round(m.get("peak_memory_gb")),
                    "wall_seconds": _round(m.get("step_seconds", m.get("wall_seconds"))),  # the whole step
                    "train_seconds": _round(m.get("wall_seconds")),  # the optimizer steps alone
                    "tokens_per_s": _round(m.get("tokens_per_s")),
                    "eval_loss_start": _round(m.get("eval_loss_start")),
                    "eval_loss": _round(m.get("eval_loss")),
                },
                "warning": barely_learned(m.get("eval_loss_start"), m.get("eval_loss"), method),
            }
        )
    return rows


def _round(value: Any) -> Any:
    return round(float(value), 4) if isinstance(value, int | float) else value


def leaderboard_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the leaderboard table: variant, then every metric any variant has."""
    names: list[str] = []
    for v in report["variants"]:
        names += [k for k in v["metrics"] if k not in names]
    rows = []
    for v in report["variants"]:
        mark = " *" if v["name"] == report["best"] else ""
        cells = [_fmt(v["metrics"].get(k)) for k in names]
        rows.append([v["name"] + mark, *cells])
    return ["variant", *names], rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: leaderboard table, best variant, goal verdict, estimate vs measured training."""
    header, rows = leaderboard_rows(report)
    lines = ["# Evaluation report", "", f"Task: {report['task']}; metric: {report['metric']}.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", f"Best variant: **{report['best']}** (marked *; {best_reason(report)}).", ""]
    lines += [goal_sentence(report["goal"]), ""] if report["goal"] else []
    if gguf := (report.get("base_model") or {}).get("gguf"):
        lines += [f"Base model: dequantized from the GGUF file {gguf['source']} ({gguf['architecture']}, "
                  f"{gguf['quantization']}); the {gguf['dequantized_to']} weights are what was trained and "
                  "evaluated, not the quantized ones.", ""]  # fmt: skip
    if report["training"]:
        lines += ["## Training: estimate vs measured", "",
                  "| method | est. memory GB (plan) | est. memory GB (preflight) | peak memory GB | est. wall s | "
                  "wall s | eval loss start → end |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for t in report["training"]:
            e, m = t["estimate"], t["measured"]
            loss = f"{_fmt(m['eval_loss_start'])} → {_fmt(m['eval_loss'])}"
            cells = [t["method"], _fmt(e["memory_gb"]), _fmt(e.get("preflight_memory_gb")),
                     _fmt(m["peak_memory_gb"]), _fmt(e["wall_seconds"]), _fmt(m["wall_seconds"]), loss]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Estimates are ±30% until measured. The plan estimates memory at the planned batch and "
                  "max_seq_len before anything runs; the preflight again for the batches that ran, just before "
                  "training; the peak is what the step itself added (on Linux, the peak RSS over the RSS when it "
                  "started). Wall time is the whole training step: starting, loading the data, training, and the "
                  "eval loss before and after."]  # fmt: skip
        lines += [f"\n**Warning**: {t['warning']}." for t in report["training"] if t.get("warning")]
    lines += _data_lines(report.get("data") or {})
    recall = report.get("train_retrieval")
    if recall and recall.get("with_source"):
        lines += ["", f"RAG variants train on what retrieval returns: retrieval recall on the training examples "
                  f"{recall['gold_retrieved']} / {recall['with_source']} ({_fmt(recall['recall'])}) at top "
                  f"{recall['top_k']}; examples whose gold passage was missed are kept (RAFT)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _data_lines(data: dict[str, Any]) -> list[str]:
    """The data checks: bad rows skipped per file, eval rows that repeat training examples."""
    lines = []
    for loaded in data.get("files", []):
        if loaded["bad_rows"]:
            lines += ["", f"Data: {loaded['path']}: {loaded['bad_rows']} bad rows skipped:", ""]
            lines += [f"- `{text}`" for text in loaded["first"]]
    leakage = data.get("leakage")
    if leakage and leakage["count"]:
        lines += ["", f"Leakage: {leakage['count']} eval rows of {leakage['eval']} repeat a training example of "
                  f"{leakage['train']}; their scores are inflated:", ""]  # fmt: skip
        lines += [f"- `{text}`" for text in leakage["first"]]
    return lines


def goal_sentence(goal: dict[str, Any]) -> str:
    """One line: which rung met the goal, or that none did."""
    sign = "≤" if goal["direction"] == "lower" else "≥"
    want = f"{goal['metric']} {sign} {goal['target']:g}"
    if goal["met"]:
        skipped = f"; not built: {', '.join(goal['skipped_rungs'])}" if goal["skipped_rungs"] else ""
        return f"Goal {want}: met by rung {goal['met_by']}{skipped}."
    return f"Goal {want}: not met by any rung ({', '.join(goal['evaluated_rungs']) or 'none evaluated'})."


def plot_goal(report: dict[str, Any], path: Path) -> None:
    """A bar chart of the report's metric per variant, with the goal's target as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = report["metric"]
    names = [v["name"] for v in report["variants"]]
    values = [v["metrics"].get(metric) or 0.0 for v in report["variants"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(names)), 3.2), dpi=100)
    colors = ["tab:green" if n == report["best"] else "tab:blue" for n in names]
    ax.bar(names, values, color=colors)
    if report["goal"]:
        ax.axhline(report["goal"]["target"], color="tab:red", linestyle="--", label="goal")
        ax.legend()
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per variant" + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
