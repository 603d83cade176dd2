"""Build events for people and machines: plain lines, a JSON stream, or (progress.py) rich bars."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class Reporter:
    """Receives build events; this base class ignores them all."""

    def build_started(self, total: int) -> None: ...

    def step_started(self, step_id: str, reasons: list[str]) -> None: ...

    def step_progress(self, step_id: str, done: float, total: float | None, message: str) -> None: ...

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None: ...

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        """Bytes moved to or from the remote cache ("download"/"upload"); done == total at the end."""

    def step_failed(self, step_id: str, message: str, log: str) -> None: ...

    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def finding(self, step_id: str, finding: dict[str, Any]) -> None:
        """A step's finding about its inputs (see StepContext.warn): by default a multi-line warning."""
        self.warning(finding_text(finding))

    def build_finished(self, summary: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def human_bytes(count: float) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def finding_text(finding: dict[str, Any]) -> str:
    """A finding as the lines a person reads: its message, then its first locations indented."""
    return "\n".join([str(finding.get("message", "")), *(f"  {line}" for line in finding.get("details", []))])


def summary_line(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    warned = summary.get("warnings", 0)
    noted = f"; {warned} warning{'s' if warned != 1 else ''} about the data (see above)" if warned else ""
    if summary["up_to_date"]:
        return f"up to date ({counts.get('fresh', 0)} steps){noted}"
    parts = [f"{n} {word}" for word, n in sorted(counts.items()) if n]
    return (
        f"build {'finished' if summary['ok'] else 'failed'}: {', '.join(parts)} in {summary['seconds']:.2f}s"
        + noted
    )


class PlainReporter(Reporter):
    """One line per event, for logs and terminals that are not TTYs."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def _say(self, text: str, stream: TextIO | None = None) -> None:
        stream = stream or self.out
        stream.write(text + "\n")
        stream.flush()

    def step_started(self, step_id: str, reasons: list[str]) -> None:
        self._say(f"run {step_id}" + (f" ({'; '.join(reasons)})" if reasons else ""))

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None:
        if outcome == "ran":
            self._say(f"done {step_id} in {seconds:.2f}s")
        elif outcome == "restored":
            self._say(f"restored {step_id} from {source}")

    def step_failed(self, step_id: str, message: str, log: str) -> None:
        self._say(f"FAILED {step_id}: {message}\n  log: {log}", self.err)

    def info(self, message: str) -> None:
        self._say(message, self.err)

    def warning(self, message: str) -> None:
        self._say(f"warning: {message}", self.err)

    def build_finished(self, summary: dict[str, Any]) -> None:
        self._say(summary_line(summary))


class JsonReporter(Reporter):
    """One JSON object per line on stdout: {"event": ..., ...}."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def _emit(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"event": event, **fields}, sort_keys=True, ensure_ascii=False) + "\n")
        self.out.flush()

    def build_started(self, total: int) -> None:
        self._emit("build_started", total=total)

    def step_started(self, step_id: str, reasons: list[str]) -> None:
        self._emit("step_started", step=step_id, reasons=reasons)

    def step_progress(self, step_id: str, done: float, total: float | None, message: str) -> None:
        self._emit("step_progress", step=step_id, done=done, total=total, message=message)

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None:
        fields = {"source": source} if outcome == "restored" else {}
        self._emit("step_finished", step=step_id, outcome=outcome, seconds=round(seconds, 6), **fields)

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        self._emit("transfer", step=step_id, verb=verb, done=done, total=total)

    def step_failed(self, step_id: str, message: str, log: str) -> None:
        self._emit("step_failed", step=step_id, message=message, log=log)

    def info(self, message: str) -> None:
        self._emit("info", message=message)

    def warning(self, message: str) -> None:
        self._emit("warning", message=message)

    def finding(self, step_id: str, finding: dict[str, Any]) -> None:
        self._emit("warning", step=step_id, **finding)

    def build_finished(self, summary: dict[str, Any]) -> None:
        self._emit("build_finished", **summary)
