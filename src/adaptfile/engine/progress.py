"""Rich progress for interactive builds: steps done/total, the current step, elapsed, step bars."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from adaptfile.engine.reporter import Reporter, human_bytes, summary_line


class RichReporter(Reporter):
    """Live bars on the terminal; only imported when stdout is a TTY and --json is off."""

    def __init__(self) -> None:
        self.console = Console(file=sys.stdout, stderr=False)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=False,
        )
        self.overall: Any = None
        self.current: Any = None
        self.transfers: dict[str, Any] = {}  # step id → its byte bar while it moves to or from a remote
        self.started = False

    def build_started(self, total: int) -> None:
        self.progress.start()
        self.started = True
        self.overall = self.progress.add_task("build", total=total)

    def step_started(self, step_id: str, reasons: list[str]) -> None:
        why = f" [dim]({'; '.join(reasons)})[/dim]" if reasons else ""
        self.progress.console.print(f"run [bold]{step_id}[/bold]{why}")
        self.progress.update(self.overall, description=f"build: {step_id}")
        self.current = self.progress.add_task(f"  {step_id}", total=None)

    def step_progress(self, step_id: str, done: float, total: float | None, message: str) -> None:
        if self.current is not None:
            label = f"  {step_id}" + (f": {message}" if message else "")
            self.progress.update(self.current, completed=done, total=total, description=label)

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None:
        self._end_step()
        if outcome == "ran":
            self.progress.console.print(f"[green]done[/green] {step_id} in {seconds:.2f}s")
        elif outcome == "restored":
            self.progress.console.print(f"restored {step_id} from {source}")
        if self.overall is not None:
            self.progress.advance(self.overall)

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        label = f"  {step_id}: {verb} {human_bytes(done)} / {human_bytes(total)}"
        task = self.transfers.get(step_id)
        if task is None:
            task = self.transfers[step_id] = self.progress.add_task(label, total=max(total, 1))
        self.progress.update(task, completed=done, total=max(total, 1), description=label)
        if done >= total:
            self.progress.remove_task(task)
            del self.transfers[step_id]

    def step_failed(self, step_id: str, message: str, log: str) -> None:
        self._end_step()
        self.progress.console.print(f"[red]FAILED[/red] {step_id}: {message}\n  log: {log}")
        self.progress.advance(self.overall)

    def _end_step(self) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None

    def info(self, message: str) -> None:
        Console(stderr=True).print(message)

    def warning(self, message: str) -> None:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {message}")

    def build_finished(self, summary: dict[str, Any]) -> None:
        self.close()
        self.console.print(summary_line(summary))

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False
