"""What a build records: adapt.lock determinism, --frozen, failures, corruption, build/, gc."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from engine_kinds import chain

from adaptfile.engine import BuildOptions, LockMeta, build, clean, collect_garbage, status
from adaptfile.engine import view as view_module
from adaptfile.engine.errors import FrozenMismatch, MissingInput, UnknownStepKind
from adaptfile.engine.reporter import Reporter
from adaptfile.plan.model import StepSpec

META = LockMeta(("rag", "icl"), {"base": "tiny", "revision": "main"})


class Recorder(Reporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.failures: list[tuple[str, str, str]] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def step_failed(self, step_id: str, message: str, log: str) -> None:
        self.failures.append((step_id, message, log))


def outputs(root: Path) -> dict:
    manifest = json.loads((root / "build/manifest.json").read_text())
    return {sid: rec["outputs"] for sid, rec in manifest["steps"].items()}


def test_two_copies_build_identical_lock_and_outputs(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, other)
    build(project, chain(), META)
    build(other, chain(), META)
    assert (project / "adapt.lock").read_bytes() == (other / "adapt.lock").read_bytes()
    assert outputs(project) == outputs(other)
    lock = (project / "adapt.lock").read_text()
    assert str(project) not in lock and str(tmp_path) not in lock
    document = json.loads(lock)
    assert document["strategies"] == ["icl", "rag"]
    assert document["model"] == {"base": "tiny", "revision": "main"}
    assert document["steps"]["docs.concat"]["inputs"].keys() == {"docs/a.md", "docs/b.md"}


def test_frozen_passes_when_nothing_changes_even_with_an_empty_cache(project: Path, kinds: list[str]) -> None:
    build(project, chain(), META)
    shutil.rmtree(project / ".adapt")
    kinds.clear()
    result = build(project, chain(), META, BuildOptions(frozen=True))
    assert result.ok and len(kinds) == 4


def test_frozen_fails_before_running_when_the_lock_would_change(project: Path, kinds: list[str]) -> None:
    build(project, chain(), META)
    lock = (project / "adapt.lock").read_bytes()
    kinds.clear()
    with pytest.raises(FrozenMismatch) as caught:
        build(project, chain(mode="lower"), META, BuildOptions(frozen=True))
    assert caught.value.exit_code == 1
    assert "docs.upper would change (params changed: upper.mode upper→lower)" in caught.value.message
    assert kinds == []
    assert (project / "adapt.lock").read_bytes() == lock
    with pytest.raises(FrozenMismatch):
        build(
            project,
            chain(),
            LockMeta(("rag",), {"base": "tiny", "revision": "v2"}),
            BuildOptions(frozen=True),
        )


def test_failed_step_records_nothing_and_names_its_log(project: Path) -> None:
    specs = (
        *chain(),
        StepSpec("broken", "test.fail", deps=("docs.concat",)),
        StepSpec("after", "test.upper", deps=("broken",)),
    )
    recorder = Recorder()
    result = build(project, specs, META, BuildOptions(keep_going=True), recorder)
    outcomes = {o.step_id: o.outcome for o in result.outcomes}
    assert outcomes["broken"] == "failed" and outcomes["after"] == "blocked"
    assert outcomes["notes.concat"] == "ran"
    assert recorder.failures == [("broken", "RuntimeError: boom", ".adapt/logs/broken.log")]
    log = (project / ".adapt/logs/broken.log").read_text()
    assert "about to fail" in log and "RuntimeError: boom" in log
    metas = [json.loads(p.read_text()) for p in (project / ".adapt/cache").glob("*/*/meta.json")]
    assert "broken" not in {m["step"] for m in metas}
    assert "broken" not in json.loads((project / "adapt.lock").read_text())["steps"]
    assert not list((project / ".adapt/tmp").glob("*"))


def test_failure_without_keep_going_stops(project: Path, kinds: list[str]) -> None:
    specs = (StepSpec("broken", "test.fail"), *chain())
    result = build(project, specs, META)
    assert not result.ok and kinds == ["broken"]


def test_corrupt_cache_entry_is_detected_dropped_and_rebuilt(project: Path, kinds: list[str]) -> None:
    build(project, chain(), META)
    kinds.clear()
    target = (project / "build/docs.upper/out.txt").resolve()
    target.write_text("CORRUPTED!!!")
    recorder = Recorder()
    result = build(project, chain(), META, reporter=recorder)
    assert result.ok
    assert kinds == ["docs.upper"]
    assert any("corrupt" in w and "docs.upper" in w for w in recorder.warnings)
    assert (project / "build/docs.upper/out.txt").read_text() == "ALPHA\nBETA\n"


def test_missing_meta_is_a_miss(project: Path, kinds: list[str]) -> None:
    build(project, chain(), META)
    kinds.clear()
    for meta in (project / ".adapt/cache").glob("*/*/meta.json"):
        if json.loads(meta.read_text())["step"] == "notes.concat":
            meta.unlink()
    build(project, chain(), META)
    assert kinds == ["notes.concat"]


def test_build_view_works_without_symlinks(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(view_module, "USE_SYMLINKS", False)
    build(project, chain(), META)
    view = project / "build/docs.upper"
    assert view.is_dir() and not view.is_symlink()
    assert (view / "out.txt").read_text() == "ALPHA\nBETA\n"
    build(project, chain(mode="lower"), META)
    assert (view / "out.txt").read_text() == "alpha\nbeta\n"


def test_clean_then_build_restores_without_running(project: Path, kinds: list[str]) -> None:
    build(project, chain(), META)
    kinds.clear()
    clean(project)
    assert not (project / "build").exists()
    assert build(project, chain(), META).ok
    assert kinds == []
    assert (project / "build/docs.first/out.txt").read_text() == "ALPHA"


def test_gc_keeps_lock_and_recent_builds(project: Path) -> None:
    build(project, chain(), META)
    build(project, chain(mode="lower"), META)
    entries = lambda: len(list((project / ".adapt/cache").glob("*/*")))  # noqa: E731
    assert entries() == 6
    assert collect_garbage(project, keep=2).removed == {}
    preview = collect_garbage(project, keep=1, dry_run=True)
    assert len(preview.removed) == 2 and preview.freed > 0 and entries() == 6
    result = collect_garbage(project, keep=1)
    assert len(result.removed) == 2 and entries() == 4
    assert all(v.fresh for v in status(project, chain(mode="lower"), META))


def test_unknown_kind_fails_before_running_anything(project: Path, kinds: list[str]) -> None:
    specs = (*chain(), StepSpec("thirdparty.step", "no.such.kind", deps=("docs.concat",)))
    with pytest.raises(UnknownStepKind) as caught:
        build(project, specs, META)
    assert caught.value.exit_code == 3
    assert "step 'thirdparty.step'" in caught.value.message and "'no.such.kind'" in caught.value.message
    assert kinds == []


def test_missing_literal_input_is_a_config_error(project: Path) -> None:
    with pytest.raises(MissingInput) as caught:
        build(project, (StepSpec("x", "test.concat", inputs=("data/train.jsonl",)),), META)
    assert caught.value.exit_code == 3 and "data/train.jsonl" in caught.value.message
