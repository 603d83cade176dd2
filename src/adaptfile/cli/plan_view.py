"""Render a plan (its JSON form, so the table and --json can never disagree) for a person."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adaptfile.plan.fit import PARALLEL_NAMES

_STYLE = {"chosen": "bold green", "rejected": "red", "not_needed": "dim"}


def render_plan(plan: dict[str, Any], console: Console | None = None) -> None:
    """Print profile, strategy decisions with reasons and estimates, warnings, ladder and steps."""
    console = console or Console(width=None if Console().is_terminal else 140, highlight=False)
    model, train = plan.get("model", {}), plan.get("hardware", {}).get("train", {})
    console.print(
        f"[bold]{escape(plan['project'])}[/bold]  task: {plan.get('task', '?')}  "
        f"model: {escape(str(model.get('name', '?')))} ({model.get('params_human', '?')} params)  "
        f"train on: {escape(str(train.get('describe', '?')))}"
    )
    profile = plan.get("profile")
    if profile and any(profile.get(name) for name in ("knowledge", "examples", "eval")):
        console.print(_profile_table(profile))
    console.print(_strategy_table(plan["strategies"]))
    for warning in plan.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if plan.get("ladder"):
        console.print("goal ladder: " + " → ".join(plan["ladder"]))
    console.print(_steps_table(plan["steps"]))
    console.print("[dim]Estimates are ±30% until measured. `adapt build` runs these steps.[/dim]")


def _profile_table(profile: dict[str, Any]) -> Table:
    table = Table(title="data profile", title_justify="left")
    for column in ("data", "file(s)", "format", "size", "tokens (est.)", "notes"):
        table.add_column(column)
    knowledge = profile.get("knowledge")
    if knowledge:
        types = ", ".join(f"{n} {ext}" for ext, n in sorted(knowledge.get("by_type", {}).items()))
        skipped = len(knowledge.get("skipped", []))
        table.add_row(
            "knowledge",
            f"{knowledge['files']:,} files",
            types,
            f"{knowledge['bytes']:,} bytes",
            f"{knowledge['tokens']:,}",
            f"{skipped} skipped" if skipped else "",
        )
    for name in ("examples", "eval"):
        rows = profile.get(name)
        if rows:
            table.add_row(
                name,
                escape(rows["path"]),
                f"{rows['file_type']} / {rows['format']}",
                f"{rows['rows']:,} rows",
                f"{rows['tokens_mean']:.0f} per row (max {rows['tokens_max']:,})",
                escape(_row_notes(rows)),
            )
    return table


def _row_notes(rows: dict[str, Any]) -> str:
    notes = [f"{rows['duplicates']} exact duplicates"] if rows.get("duplicates") else []
    if rows.get("labels"):
        notes.append(f"{rows['labels']} labels")
    bad = rows.get("bad_rows") or []
    if bad:
        notes.append(
            f"{len(bad) + rows.get('omitted_issues', 0)} bad rows (first: {bad[0]['path']}:{bad[0]['line']}: "
            f"{bad[0]['message']})"
        )
    return "; ".join(notes)


def _strategy_table(strategies: list[dict[str, Any]]) -> Table:
    table = Table(title="strategies", title_justify="left", show_lines=True)
    table.add_column("strategy")
    table.add_column("decision")
    table.add_column("reason", ratio=3)
    table.add_column("estimate", ratio=2)
    for strategy in strategies:
        decision = strategy["decision"]
        label = decision.replace("_", " ") + (" (if goal unmet)" if strategy.get("conditional") else "")
        table.add_row(
            strategy["name"],
            f"[{_STYLE.get(decision, '')}]{label}[/]",
            escape(strategy["reason"]),
            _estimate_text(strategy.get("estimate", {})) if decision != "not_needed" else "",
        )
    return table


def _estimate_text(estimate: dict[str, Any]) -> str:
    """The few figures a person compares: prompt size and latency, or memory, time and cost."""
    lines = []
    if "prompt_tokens" in estimate:
        lines.append(f"prompt ≈{estimate['prompt_tokens']:,} tokens est. (longest question)")
    if "latency_ms" in estimate:
        lines.append(f"latency ≈{estimate['latency_ms']:,.0f} ms")
    if "chunks" in estimate:
        lines.append(
            f"{estimate['chunks']:,} chunks, {estimate.get('retrieved_tokens', 0):,} tokens retrieved"
        )
    if "memory_gb" in estimate:
        limit = estimate.get("memory_limit_gb")
        lines.append(f"memory ≈{_num(estimate['memory_gb'])} GB" + (f" of {_num(limit)}" if limit else ""))
        if "parallel" in estimate:
            lines[-1] += " per device"
            lines.append(f"{PARALLEL_NAMES[estimate['parallel']]} on {estimate.get('devices', 1)} device(s)")
    if "gpu_hours" in estimate:
        unit = estimate.get("hours_unit", "GPU-h")
        lines.append(f"{_num(estimate['gpu_hours'])} {unit}, ${estimate.get('cost_usd', 0):,.2f}")
    if "pairs" in estimate:  # the embedder's tuning
        lines.append(
            f"{estimate['pairs']:,} pairs × {estimate['epochs']} epoch, ≈{_num(estimate['wall_minutes'])} min"
        )
    if "batch_size" in estimate:
        lines.append(
            f"batch {estimate['batch_size']} × {estimate.get('grad_accum', 1)}, {estimate.get('precision', '')}"
            + (", checkpointing" if estimate.get("gradient_checkpointing") else "")
        )
    return "\n".join(lines)


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 0.01 or value == 0 else "<0.01"


def _steps_table(steps: list[dict[str, Any]]) -> Table:
    table = Table(title="build steps", title_justify="left")
    table.add_column("step")
    table.add_column("kind")
    table.add_column("needs")
    for step in steps:
        table.add_row(step["id"], step["kind"], ", ".join(step.get("deps", [])) or "—")
    return table
