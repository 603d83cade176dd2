"""`adapt build`: take the project lock, restore or run each stale step, then record lock and build/."""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptfile.engine.assess import StepStatus, assess
from adaptfile.engine.errors import DISK_FULL_HINT, BuildInterrupted, DiskFull, FrozenMismatch, is_disk_full
from adaptfile.engine.freshness import explain
from adaptfile.engine.frozen import lock_changes
from adaptfile.engine.keys import step_key
from adaptfile.engine.layout import Layout
from adaptfile.engine.lockfile import LockMeta, lock_document, render_lock, step_record, write_lock
from adaptfile.engine.mutex import ProjectLock
from adaptfile.engine.protocol import output_names
from adaptfile.engine.remote import REMOTE_ERRORS, RemoteCache, RemoteCorrupt
from adaptfile.engine.reporter import Reporter
from adaptfile.engine.runner import StepError, logged_warnings, remember_outputs, run_step
from adaptfile.engine.session import Session, open_session
from adaptfile.engine.store import Entry
from adaptfile.engine.view import manifest_record, present, read_manifest
from adaptfile.errors import AdaptError, UsageError

if TYPE_CHECKING:
    from adaptfile.plan.model import StepSpec


@dataclass(frozen=True)
class BuildOptions:
    targets: tuple[str, ...] = ()  # build only these steps and what they need
    force: tuple[str, ...] = ()  # rerun these steps even when fresh
    force_all: bool = False
    keep_going: bool = False  # after a failure, still build steps that do not depend on it
    frozen: bool = False  # fail without running anything if adapt.lock would change
    wait: bool = True  # wait for another build's lock instead of failing
    manifest_extra: dict[str, Any] | None = None  # the caller's top-level keys for build/manifest.json
    remote: RemoteCache | None = None  # a shared cache: restore on a local miss, push after a step runs
    strict: bool = False  # a step's findings (bad rows, unreadable files) reject it instead of warning


@dataclass
class StepOutcome:
    step_id: str
    outcome: str  # fresh | restored | ran | failed | rejected (--strict: findings) | blocked | skipped
    key: str | None = None
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    log: str | None = None
    source: str = ""  # for "restored": "cache" (this machine) or "remote cache"


@dataclass
class BuildResult:
    outcomes: list[StepOutcome]
    seconds: float
    lock_written: bool = False
    findings: list[dict[str, Any]] = field(default_factory=list)  # {"step", "check", "message", ...}

    @property
    def ok(self) -> bool:
        return all_succeeded(self.outcomes)

    @property
    def failed(self) -> list[StepOutcome]:
        return failures(self.outcomes)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        up_to_date = self.ok and set(counts) <= {"fresh"}
        return {
            "ok": self.ok,
            "up_to_date": up_to_date,
            "counts": counts,
            "seconds": round(self.seconds, 3),
            "warnings": len(self.findings),
        }


def build(
    root: Path,
    specs: Sequence[StepSpec],
    meta: LockMeta | None = None,
    options: BuildOptions | None = None,
    reporter: Reporter | None = None,
) -> BuildResult:
    """Bring the selected steps up to date. Raises AdaptError for user errors; step failures are
    returned as outcomes (and reported), never raised."""
    meta, options, reporter = meta or LockMeta(), options or BuildOptions(), reporter or Reporter()
    layout = Layout(Path(root))
    started = time.perf_counter()
    mutex = ProjectLock(layout.mutex)
    try:
        with _interrupts_raise():
            mutex.acquire(wait=options.wait, on_wait=reporter.info)
            session = open_session(layout, specs, meta, options.targets)
            try:
                _check_force(session, options)
                result = _Build(session, options, reporter, started).run()
            except BaseException:
                with contextlib.suppress(Exception):  # e.g. the disk is full: report the first error
                    session.close()
                raise
            session.close()
            return result
    except KeyboardInterrupt:
        raise BuildInterrupted(
            "build interrupted; the running step's partial output was discarded",
            hint="run `adapt build` again to finish; finished steps are cached",
        ) from None
    except Exception as err:
        if not is_disk_full(err, layout.dot):
            raise
        raise DiskFull(
            f"no space left on device during the build ({type(err).__name__}: {err})", hint=DISK_FULL_HINT
        ) from None
    finally:
        mutex.release()
        reporter.close()


def dry_run(
    root: Path, specs: Sequence[StepSpec], meta: LockMeta | None = None, options: BuildOptions | None = None
) -> list[StepStatus]:
    """What a build would do and why; runs nothing and takes no lock."""
    meta, options = meta or LockMeta(), options or BuildOptions()
    session = open_session(Layout(Path(root)), specs, meta, options.targets)
    try:
        _check_force(session, options)
        forced = {s.id for s in session.steps} if options.force_all else set(options.force)
        return assess(session, forced=forced, remote=options.remote)
    finally:
        session.close()


def _check_force(session: Session, options: BuildOptions) -> None:
    known = {spec.id for spec in session.steps}
    for step_id in options.force:
        if step_id not in known:
            raise UsageError(
                f"--force {step_id}: no such step in this build", hint=f"steps: {', '.join(sorted(known))}"
            )


@contextlib.contextmanager
def _interrupts_raise() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt) while the build runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Build:
    """One build: the walk over steps, then the records (state, build/, adapt.lock)."""

    def __init__(self, session: Session, options: BuildOptions, reporter: Reporter, started: float) -> None:
        self.session = session
        self.options = options
        self.reporter = reporter
        self.started = started
        self.entries: dict[str, Entry] = {}
        self.records: dict[str, tuple[str, dict[str, Any]]] = {}
        self.outcomes: list[StepOutcome] = []
        self.findings: list[dict[str, Any]] = []

    def run(self) -> BuildResult:
        session = self.session
        shutil.rmtree(session.layout.tmp, ignore_errors=True)  # leftovers of killed builds; we hold the lock
        if self.options.frozen:
            self._check_frozen()
        self.reporter.build_started(len(session.steps))
        stopped = False
        for spec in session.steps:
            if stopped:
                self.outcomes.append(StepOutcome(spec.id, "skipped"))
            elif any(dep not in self.entries for dep in spec.deps):
                self.outcomes.append(StepOutcome(spec.id, "blocked", reasons=["upstream failed"]))
            else:
                outcome = self._judge(spec, self._step(spec))
                self.outcomes.append(outcome)
                stopped = outcome.outcome in ("failed", "rejected") and not self.options.keep_going
        try:
            session.state.flush()
            session.state.record_steps(self.records)
            lock_written = self._record()
        except Exception as err:
            if not is_disk_full(err, session.layout.dot):
                raise
            raise DiskFull(
                "no space left on device while recording the build (build/, adapt.lock, .adapt/state)",
                hint=DISK_FULL_HINT,
            ) from None
        result = BuildResult(self.outcomes, time.perf_counter() - self.started, lock_written, self.findings)
        self.reporter.build_finished(result.summary())
        return result

    def _step(self, spec: StepSpec) -> StepOutcome:
        session = self.session
        upstream = {dep: self.entries[dep] for dep in spec.deps}
        parts = session.parts(spec, {dep: e.outputs for dep, e in upstream.items()})
        key = step_key(parts)
        previous_key, previous_parts = session.previous(spec.id)
        forced = self.options.force_all or spec.id in self.options.force
        entry = None if forced else session.store.load(key)
        if entry is not None and not session.store.verify(entry, session.state):
            self.reporter.warning(
                f"cache entry of step '{spec.id}' ({key[:12]}…) is corrupt; dropping and rebuilding it"
            )
            session.store.drop(key)
            session.state.forget_prefix(session.layout.relative(session.store.entry_dir(key)) + "/")
            entry = None
            reasons = ["cache entry corrupt"]
        elif forced:
            reasons = ["forced"]
        elif previous_key == key:
            reasons = ["cache entry missing"]
        else:
            reasons = explain(previous_parts, parts) or ["key changed"]
        if entry is not None:
            outcome = "fresh" if previous_key == key else "restored"
            self._accept(spec, key, parts, entry)
            self.reporter.step_finished(spec.id, outcome, 0.0)
            if outcome == "fresh":
                return StepOutcome(spec.id, outcome, key)
            return StepOutcome(spec.id, outcome, key, reasons, source="cache")
        if not forced:
            started = time.perf_counter()
            entry = self._from_remote(spec, key)
            if entry is not None:
                self._accept(spec, key, parts, entry)
                self.reporter.step_finished(
                    spec.id, "restored", time.perf_counter() - started, "remote cache"
                )
                return StepOutcome(
                    spec.id, "restored", key, reasons, time.perf_counter() - started, source="remote cache"
                )
        self.reporter.step_started(spec.id, reasons)
        started = time.perf_counter()

        def on_progress(done: float, total: float | None, message: str) -> None:
            self.reporter.step_progress(spec.id, done, total, message)

        try:
            entry = run_step(session, spec, key, parts, upstream, on_progress)
        except StepError as err:
            log = session.layout.relative(err.log)
            self.reporter.step_failed(spec.id, err.message, log)
            return StepOutcome(
                spec.id, "failed", key, reasons, time.perf_counter() - started, err.message, log
            )
        seconds = time.perf_counter() - started
        for warning in logged_warnings(session.layout.log_for(spec.id)):
            self.reporter.warning(f"{spec.id}: {warning}")
        self._check_reproduced(spec.id, entry)
        self._accept(spec, key, parts, entry)
        self.reporter.step_finished(spec.id, "ran", seconds)
        self._push(spec.id, entry)
        return StepOutcome(spec.id, "ran", key, reasons, seconds)

    def _judge(self, spec: StepSpec, outcome: StepOutcome) -> StepOutcome:
        """Show the findings kept in the step's meta.json (whether it ran, was restored or is fresh);
        with --strict a step with findings is rejected: downstream steps are blocked."""
        entry = self.entries.get(spec.id)
        if entry is None or outcome.outcome not in ("fresh", "restored", "ran"):
            return outcome
        findings = [f for f in entry.meta.get("findings") or [] if isinstance(f, dict) and f.get("message")]
        for finding in findings:
            self.reporter.finding(spec.id, finding)
            self.findings.append({"step": spec.id, **finding})
        if not findings or not self.options.strict:
            return outcome
        del self.entries[spec.id], self.records[spec.id]
        text = "; ".join(str(f["message"]) for f in findings)
        return StepOutcome(spec.id, "rejected", outcome.key, outcome.reasons, outcome.seconds, text)

    def _from_remote(self, spec: StepSpec, key: str) -> Entry | None:
        """The step's entry from the remote cache, downloaded and verified; None on a miss."""
        remote = self.options.remote
        if remote is None or not remote.usable:
            return None
        session = self.session

        def progress(done: int, total: int) -> None:
            self.reporter.transfer(spec.id, "download", done, total)

        try:
            entry = remote.fetch(key, session.store, output_names(session.kinds[spec.id]), progress)
        except RemoteCorrupt as err:
            self.reporter.warning(
                f"remote cache entry of step '{spec.id}' ({key[:12]}…) is corrupt: {err}; rebuilding it"
            )
            return None
        except REMOTE_ERRORS as err:
            self._remote_failed(remote, err)
            return None
        if entry is not None:
            remember_outputs(session, entry)
        return entry

    def _push(self, step_id: str, entry: Entry) -> None:
        remote = self.options.remote
        if remote is None or not remote.can_push:
            return

        def progress(done: int, total: int) -> None:
            self.reporter.transfer(step_id, "upload", done, total)

        try:
            remote.push(entry, progress)
        except REMOTE_ERRORS as err:
            self._remote_failed(remote, err)

    def _remote_failed(self, remote: RemoteCache, err: AdaptError) -> None:
        """One warning, then the rest of the build uses the local cache only."""
        remote.disabled = err.message
        self.reporter.warning(f"{err.message}; building with the local cache only")

    def _accept(self, spec: StepSpec, key: str, parts: dict[str, Any], entry: Entry) -> None:
        self.entries[spec.id] = entry
        self.records[spec.id] = (key, parts)

    def _lock_steps(self) -> dict[str, dict[str, Any]]:
        """This build's steps, plus the old lock's records of plan steps this build did not touch."""
        old = self.session.lock_steps
        steps: dict[str, dict[str, Any]] = {}
        for spec in self.session.plan:
            if spec.id in self.records:
                key, parts = self.records[spec.id]
                steps[spec.id] = step_record(parts, key, spec.deps, self.entries[spec.id].outputs)
            elif spec.id in old:
                steps[spec.id] = old[spec.id]
        return steps

    def _record(self) -> bool:
        """Update build/ and adapt.lock; --frozen never writes the lock."""
        session = self.session
        manifest_steps = read_manifest(session.layout).get("steps", {})
        plan_ids = {spec.id for spec in session.plan}
        shown = {k: v for k, v in manifest_steps.items() if k in plan_ids}
        for step_id, entry in self.entries.items():
            shown[step_id] = manifest_record(session.layout, step_id, session.kinds[step_id].name, entry)
        present(session.layout, shown, self.entries, self.options.manifest_extra)
        ok = all(o.outcome in ("fresh", "restored", "ran") for o in self.outcomes)
        if ok:
            session.state.record_build({step_id: record["key"] for step_id, record in shown.items()})
        document = lock_document(session.meta, self._lock_steps())
        if document == session.lock:
            return False  # unchanged (the common no-op): skip rendering a large lock
        data = render_lock(document)
        if self.options.frozen:
            current = session.layout.lockfile.read_bytes() if session.layout.lockfile.exists() else b""
            if data != current and ok:
                raise FrozenMismatch(
                    "the build produced outputs that differ from adapt.lock (a non-deterministic step?)",
                    hint="run `adapt build` without --frozen and review the adapt.lock diff",
                )
            return False
        if not self.records and not ok:
            return False
        return write_lock(session.layout.lockfile, data)

    def _check_frozen(self) -> None:
        problems = lock_changes(self.session)
        if problems:
            raise FrozenMismatch(
                "--frozen: the build would change adapt.lock:\n  " + "\n  ".join(problems),
                hint="run `adapt build` without --frozen and commit adapt.lock",
            )

    def _check_reproduced(self, step_id: str, entry: Entry) -> None:
        if not self.options.frozen:
            return
        locked = self.session.lock_steps.get(step_id, {}).get("outputs")
        if locked is not None and locked != entry.outputs:
            raise FrozenMismatch(
                f"--frozen: step {step_id} produced outputs that differ from adapt.lock",
                hint="the step is not deterministic, or adapt.lock was edited; rebuild without --frozen",
            )


def all_succeeded(outcomes: list[StepOutcome]) -> bool:
    """Every step is fresh, restored from the cache, or ran to the end."""
    return all(o.outcome in ("fresh", "restored", "ran") for o in outcomes)


def failures(outcomes: list[StepOutcome]) -> list[StepOutcome]:
    return [o for o in outcomes if o.outcome == "failed"]
