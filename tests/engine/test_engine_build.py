"""Incremental builds with trivial steps: no-op, touch, input/param edits, early cutoff, targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine_kinds import chain

from adaptfile.engine import BuildOptions, LockMeta, build, dry_run, status
from adaptfile.engine import state as state_module

META = LockMeta(("rag",), {"base": "tiny", "revision": "main"})


def run(root: Path, specs=None, **options) -> dict[str, str]:
    result = build(root, specs or chain(), META, BuildOptions(**options))
    return {o.step_id: o.outcome for o in result.outcomes}


def reasons(root: Path, specs=None) -> dict[str, list[str]]:
    return {v.step_id: v.reasons for v in status(root, specs or chain(), META)}


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the stat cache hashes in this test."""
    seen: list[str] = []
    real = state_module.file_digest

    def counting(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(state_module, "file_digest", counting)
    return seen


def test_first_build_runs_everything_and_writes_outputs(project: Path, kinds: list[str]) -> None:
    outcomes = run(project)
    assert set(outcomes.values()) == {"ran"}
    assert sorted(kinds) == ["docs.concat", "docs.first", "docs.upper", "notes.concat"]
    assert (project / "build/docs.upper/out.txt").read_text() == "ALPHA\nBETA\n"
    assert (project / "build/docs.first/out.txt").read_text() == "ALPHA"
    manifest = json.loads((project / "build/manifest.json").read_text())
    record = manifest["steps"]["docs.upper"]
    assert record["outputs"]["out.txt"]["path"] == "build/docs.upper/out.txt"
    assert (project / "adapt.lock").exists()
    assert (project / ".adapt/logs/docs.concat.log").read_text().startswith("concatenated 2 files")


def test_second_build_runs_nothing_and_hashes_nothing(
    project: Path, kinds: list[str], hashes: list[str]
) -> None:
    run(project)
    kinds.clear()
    hashes.clear()
    lock_before = (project / "adapt.lock").read_bytes()
    result = build(project, chain(), META)
    assert result.summary()["up_to_date"]
    assert kinds == []
    assert hashes == []
    assert (project / "adapt.lock").read_bytes() == lock_before
    assert all(v.fresh for v in status(project, chain(), META))


def test_touch_without_change_reruns_nothing(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    os.utime(project / "docs/a.md", ns=(1_700_000_000_000_000_000,) * 2)
    assert set(run(project).values()) == {"fresh"}
    assert kinds == []


def test_changed_input_reruns_exactly_its_dependents(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    (project / "docs/b.md").write_text("gamma\n")
    assert reasons(project)["docs.concat"] == ["input modified: docs/b.md"]
    assert reasons(project)["docs.upper"] == ["upstream stale: docs.concat"]
    assert reasons(project)["notes.concat"] == []
    outcomes = run(project)
    assert kinds == ["docs.concat", "docs.upper", "docs.first"]
    assert outcomes["notes.concat"] == "fresh"


def test_added_and_removed_inputs_are_reasons(project: Path) -> None:
    run(project)
    (project / "docs/c.md").write_text("c\n")
    (project / "docs/a.md").unlink()
    assert reasons(project)["docs.concat"] == ["input removed: docs/a.md", "input added: docs/c.md"]


def test_changed_param_reruns_only_steps_reading_it(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    changed = chain(mode="lower")
    assert reasons(project, changed)["docs.upper"] == ["params changed: upper.mode upper→lower"]
    run(project, changed)
    assert kinds == ["docs.upper", "docs.first"]


def test_param_the_kind_does_not_read_is_not_in_its_key(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    specs = list(chain())
    specs[1] = specs[1].__class__(**{**specs[1].__dict__, "params": {"upper.mode": "upper", "lora.r": 16}})
    assert set(run(project, specs).values()) == {"fresh"}


def test_reordered_params_rerun_nothing(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    specs = list(chain())
    specs[1] = specs[1].__class__(**{**specs[1].__dict__, "params": {"lora.r": 8, "upper.mode": "upper"}})
    assert set(run(project, specs).values()) == {"fresh"}


def test_early_cutoff_identical_upstream_output_keeps_downstream_fresh(
    project: Path, kinds: list[str]
) -> None:
    run(project)
    kinds.clear()
    (project / "docs/a.md").write_text("ALPHA\n")  # concat changes; its uppercase does not
    outcomes = run(project)
    assert kinds == ["docs.concat", "docs.upper"]
    assert outcomes["docs.first"] == "fresh"


def test_reverting_a_change_restores_from_cache(project: Path, kinds: list[str]) -> None:
    run(project)
    run(project, chain(mode="lower"))
    kinds.clear()
    outcomes = run(project)
    assert kinds == []
    assert outcomes["docs.upper"] == "restored"
    assert (project / "build/docs.upper/out.txt").read_text() == "ALPHA\nBETA\n"


def test_targets_build_only_what_they_need(project: Path, kinds: list[str]) -> None:
    outcomes = run(project, targets=("docs.upper",))
    assert sorted(outcomes) == ["docs.concat", "docs.upper"]
    assert sorted(kinds) == ["docs.concat", "docs.upper"]
    assert not (project / "build/notes.concat").exists()


def test_force_reruns_a_fresh_step(project: Path, kinds: list[str]) -> None:
    run(project)
    kinds.clear()
    run(project, force=("docs.upper",))
    assert kinds == ["docs.upper"]  # same output → docs.first stays fresh


def test_dry_run_runs_nothing_and_explains(project: Path, kinds: list[str]) -> None:
    verdicts = dry_run(project, chain(), META)
    assert kinds == []
    assert [v.reasons for v in verdicts] == [["not built"]] * 4
    assert not (project / ".adapt/cache").exists()


def test_directory_outputs_and_progress(project: Path) -> None:
    from adaptfile.plan.model import StepSpec

    specs = (StepSpec("pages", "test.pages", inputs=("docs",)),)
    run(project, specs)
    assert sorted(p.name for p in (project / "build/pages/pages").iterdir()) == ["0000.txt", "0001.txt"]
    lock = json.loads((project / "adapt.lock").read_text())
    assert set(lock["steps"]["pages"]["outputs"]) == {"pages"}
    assert set(run(project, specs).values()) == {"fresh"}


def test_kind_version_bump_is_a_tool_version_reason(project: Path, kinds: list[str]) -> None:
    from dataclasses import replace

    from engine_kinds import KINDS

    from adaptfile.engine import register

    run(project)
    upper = next(k for k in KINDS if k.name == "test.upper")
    register(replace(upper, version="2"))
    try:
        assert reasons(project)["docs.upper"] == ["tool version changed: test.upper v1→v2"]
    finally:
        register(upper)


def test_upstream_rebuilt_alone_makes_downstream_say_upstream_changed(project: Path) -> None:
    run(project)
    (project / "docs/a.md").write_text("other\n")
    run(project, targets=("docs.concat",))
    assert reasons(project)["docs.upper"] == ["upstream changed: docs.concat"]
    assert reasons(project)["docs.concat"] == []
