"""Render a plan (its JSON form, so the table and --json can never disagree) for a person."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_STYLE = {"chosen": "bold green", "rejected": "red", "not_needed": "dim"}


def render_plan(plan: dict[str, Any], console: Console | None = None) -> None:
    """Print profile, strategy decisions with reasons and estimates, warnings, ladder and steps."""
    console = console or Console(width=None if Console().is_terminal else 140, highlight=False)
    console.print(f"[bold]{plan['project']}[/bold]  {_summary(plan)}")
    profile = plan.get("profile")
    if profile:
        console.print(_profile_table(profile))
    console.print(_strategy_table(plan["strategies"]))
    for warning in plan.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if plan.get("ladder"):
        console.print("goal ladder: " + " → ".join(plan["ladder"]))
    console.print(_steps_table(plan["steps"]))
    console.print("[dim]Estimates are ±30% until measured. `adapt build` runs these steps.[/dim]")


def _summary(plan: dict[str, Any]) -> str:
    parts = []
    for key in ("task", "model", "hardware"):
        value = plan.get(key)
        if isinstance(value, dict):
            value = value.get("summary") or ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        if value:
            parts.append(f"{key}: {value}")
    return "  ".join(parts)


def _profile_table(profile: dict[str, Any]) -> Table:
    table = Table(title="data profile", title_justify="left", show_lines=False)
    for column in ("data", "file(s)", "format", "rows/files", "tokens (est.)", "notes"):
        table.add_column(column)
    knowledge = profile.get("knowledge")
    if knowledge:
        types = ", ".join(f"{n} {ext}" for ext, n in sorted(knowledge.get("by_type", {}).items()))
        skipped = len(knowledge.get("skipped", []))
        table.add_row(
            "knowledge",
            f"{knowledge['bytes']:,} bytes",
            types,
            f"{knowledge['files']:,} files",
            f"{knowledge['tokens']:,}",
            f"{skipped} skipped" if skipped else "",
        )
    for name in ("examples", "eval"):
        rows = profile.get(name)
        if not rows:
            continue
        notes = [f"{rows['duplicates']} duplicates"] if rows.get("duplicates") else []
        if rows.get("bad_rows"):
            first = rows["bad_rows"][0]
            notes.append(f"{len(rows['bad_rows'])} bad rows (first: {first['path']}:{first['line']})")
        if rows.get("labels"):
            notes.append(f"{rows['labels']} labels")
        table.add_row(
            name,
            rows["path"],
            f"{rows['file_type']} / {rows['format']}",
            f"{rows['rows']:,} rows",
            f"{rows['tokens_mean']:.0f} per row (max {rows['tokens_max']:,})",
            "; ".join(notes),
        )
    return table


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
            strategy["reason"],
            _estimate_text(strategy.get("estimate", {})),
        )
    return table


def _estimate_text(estimate: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {_short(value)}" for key, value in sorted(estimate.items()) if _short(value))


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ""
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _steps_table(steps: list[dict[str, Any]]) -> Table:
    table = Table(title="build steps", title_justify="left")
    table.add_column("step")
    table.add_column("kind")
    table.add_column("needs")
    for step in steps:
        table.add_row(step["id"], step["kind"], ", ".join(step.get("deps", [])) or "—")
    return table
