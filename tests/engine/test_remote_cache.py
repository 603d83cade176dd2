"""The shared build cache on a directory remote, with the trivial kinds: restore, push, verify, races."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine_kinds import chain, spec_to_json

from adaptfile.engine import BuildOptions, LockMeta, build, dry_run, status
from adaptfile.engine.remote import RemoteCache, RemoteSettings
from adaptfile.engine.remote_sync import cache_status, pull, push
from adaptfile.engine.reporter import Reporter

META = LockMeta(("rag",), {"base": "tiny", "revision": "main"})
DRIVER = Path(__file__).resolve().parent / "build_driver.py"


class Recorder(Reporter):
    """Keeps every event the engine reports."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.finished: list[tuple[str, str, str]] = []
        self.transfers: list[tuple[str, str, int, int]] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def step_finished(self, step_id: str, outcome: str, seconds: float, source: str = "cache") -> None:
        self.finished.append((step_id, outcome, source))

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        self.transfers.append((step_id, verb, done, total))


def remote_at(path: Path, push: bool = True) -> RemoteCache:
    path.mkdir(parents=True, exist_ok=True)
    return RemoteCache(RemoteSettings(str(path), push=push))


def run(
    root: Path, remote: RemoteCache | None, reporter: Reporter | None = None, specs=None
) -> dict[str, str]:
    result = build(root, specs or chain(), META, BuildOptions(remote=remote), reporter or Recorder())
    assert result.ok
    return {o.step_id: o.outcome for o in result.outcomes}


def clone(project: Path, dest: Path) -> Path:
    """What `git clone` gives: sources and adapt.lock, no .adapt/ and no build/."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".adapt", "build"))
    return dest


def remote_entries(remote_dir: Path) -> list[Path]:
    return sorted((remote_dir / "entries").glob("*/*.json"))


def outputs(root: Path) -> dict[str, str]:
    return {p.relative_to(root / "build").as_posix(): p.read_text() for p in (root / "build").rglob("*.txt")}


def test_a_fresh_clone_restores_every_step_from_the_remote(
    project: Path, tmp_path: Path, kinds: list[str]
) -> None:
    shared = tmp_path / "shared"
    first = Recorder()
    assert set(run(project, remote_at(shared), first).values()) == {"ran"}
    assert len(remote_entries(shared)) == 4  # pushed after each step
    assert first.warnings == []

    other = clone(project, tmp_path / "b")
    kinds.clear()
    second = Recorder()
    outcomes = run(other, remote_at(shared), second)
    assert kinds == []  # 0 steps ran
    assert set(outcomes.values()) == {"restored"}
    assert {source for _, _, source in second.finished} == {"remote cache"}
    assert (other / "adapt.lock").read_bytes() == (project / "adapt.lock").read_bytes()
    assert outputs(other) == outputs(project)
    assert second.warnings == []
    last = {step: (done, total) for step, verb, done, total in second.transfers if verb == "download"}
    assert sorted(last) == sorted(outcomes) and all(done == total for done, total in last.values())
    assert last["docs.concat"] == (len("alpha\nbeta\n"),) * 2  # bytes, not files

    kinds.clear()
    assert set(run(other, remote_at(shared)).values()) == {"fresh"}  # and now it is local


def test_status_and_dry_run_say_restorable_from_remote(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    run(project, remote_at(shared))
    other = clone(project, tmp_path / "b")
    verdicts = status(other, chain(), META, remote=remote_at(shared))
    assert all(not v.fresh and v.remote and not v.cached for v in verdicts)
    assert [v.remote for v in status(other, chain(), META)] == [False] * 4  # without the remote
    preview = dry_run(other, chain(), META, BuildOptions(remote=remote_at(shared)))
    assert all(v.remote for v in preview)


def test_a_corrupt_remote_file_is_a_miss_with_a_warning_and_is_repaired(
    project: Path, tmp_path: Path, kinds: list[str]
) -> None:
    shared = tmp_path / "shared"
    run(project, remote_at(shared))
    upper = (project / "build/docs.upper/out.txt").read_bytes()
    blob = next(p for p in (shared / "files").rglob("*") if p.is_file() and p.read_bytes() == upper)
    blob.write_bytes(b"EVIL\n")

    other = clone(project, tmp_path / "b")
    kinds.clear()
    reporter = Recorder()
    outcomes = run(other, remote_at(shared), reporter)
    assert outcomes["docs.upper"] == "ran" and kinds == ["docs.upper"]
    assert outcomes["docs.concat"] == outcomes["docs.first"] == "restored"
    assert len(reporter.warnings) == 1 and "docs.upper" in reporter.warnings[0]
    assert "corrupt" in reporter.warnings[0]
    assert (other / "build/docs.upper/out.txt").read_bytes() == upper  # never the wrong output
    assert blob.read_bytes() == upper  # the rebuilt entry was pushed over the bad file

    third = clone(project, tmp_path / "c")
    kinds.clear()
    assert set(run(third, remote_at(shared)).values()) == {"restored"} and kinds == []


def test_an_entry_without_its_metadata_object_is_invisible(
    project: Path, tmp_path: Path, kinds: list[str]
) -> None:
    shared = tmp_path / "shared"
    run(project, remote_at(shared))
    lock = json.loads((project / "adapt.lock").read_text())
    key = lock["steps"]["docs.first"]["key"]
    (shared / "entries" / key[:2] / f"{key}.json").unlink()  # its files are there: a partial upload

    other = clone(project, tmp_path / "b")
    kinds.clear()
    reporter = Recorder()
    outcomes = run(other, remote_at(shared), reporter)
    assert outcomes["docs.first"] == "ran" and kinds == ["docs.first"]
    assert reporter.warnings == []  # a miss, not an error
    assert (shared / "entries" / key[:2] / f"{key}.json").is_file()  # pushed after it ran


def test_tampered_metadata_is_refused(project: Path, tmp_path: Path, kinds: list[str]) -> None:
    shared = tmp_path / "shared"
    run(project, remote_at(shared))
    key = json.loads((project / "adapt.lock").read_text())["steps"]["notes.concat"]["key"]
    path = shared / "entries" / key[:2] / f"{key}.json"
    meta = json.loads(path.read_text())
    meta["files"] = {"../../escape.txt": next(iter(meta["files"].values()))}
    path.write_text(json.dumps(meta))

    other = clone(project, tmp_path / "b")
    kinds.clear()
    reporter = Recorder()
    assert run(other, remote_at(shared), reporter)["notes.concat"] == "ran"
    assert any("notes.concat" in w and "corrupt" in w for w in reporter.warnings)
    assert not (other / ".adapt" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert "../../escape.txt" not in path.read_text()  # the rebuilt entry was pushed over it


def test_a_read_only_consumer_never_pushes(project: Path, tmp_path: Path, kinds: list[str]) -> None:
    shared = tmp_path / "shared"
    outcomes = run(project, remote_at(shared, push=False))
    assert set(outcomes.values()) == {"ran"}
    assert remote_entries(shared) == [] and not (shared / "files").exists()


def test_a_missing_remote_directory_warns_once_and_builds_locally(project: Path, tmp_path: Path) -> None:
    remote = RemoteCache(RemoteSettings(str(tmp_path / "not-mounted")))
    reporter = Recorder()
    assert set(run(project, remote, reporter).values()) == {"ran"}
    assert len(reporter.warnings) == 1
    assert "not-mounted does not exist" in reporter.warnings[0]
    assert "local cache only" in reporter.warnings[0]
    assert not (tmp_path / "not-mounted").exists()


def test_push_pull_and_cache_status_move_entries_explicitly(
    project: Path, tmp_path: Path, kinds: list[str]
) -> None:
    shared = tmp_path / "shared"
    run(project, None)  # built before the team had a remote
    rows = cache_status(project, chain(), META, remote_at(shared))
    assert [(r.local, r.remote) for r in rows] == [(True, False)] * 4

    rows = push(project, chain(), META, remote_at(shared), ("docs.upper",))
    assert [(r.step_id, r.action) for r in rows] == [("docs.concat", "pushed"), ("docs.upper", "pushed")]
    rows = push(project, chain(), META, remote_at(shared))
    assert {r.step_id: r.action for r in rows} == {
        "docs.concat": "present", "docs.upper": "present", "docs.first": "pushed", "notes.concat": "pushed",
    }  # fmt: skip

    other = clone(project, tmp_path / "b")
    rows = cache_status(other, chain(), META, remote_at(shared))
    assert [(r.local, r.remote) for r in rows] == [(False, True)] * 4
    assert [r.key for r in rows] == [r.key for r in cache_status(project, chain(), META, remote_at(shared))]
    rows = pull(other, chain(), META, remote_at(shared))
    assert all(r.action == "pulled" and r.local for r in rows)
    kinds.clear()
    assert set(run(other, None).values()) == {"fresh"} and kinds == []  # the lock's keys, cached locally
    assert outputs(other) == outputs(project)


def test_remote_gc_keeps_what_a_lock_references(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    remote = remote_at(shared)
    run(project, remote, specs=chain(sep="-"))
    old_blobs = {p.name for p in (shared / "files").rglob("*") if p.is_file()}
    run(project, remote)  # a new separator: new keys for the docs steps
    keep = {r["key"] for r in json.loads((project / "adapt.lock").read_text())["steps"].values()}
    removed, files, freed = remote.collect_garbage(keep, min_age_s=0, dry_run=True)
    assert len(removed) == 3 and files >= 1 and freed > 0  # docs.concat/upper/first of the old plan
    assert len(remote_entries(shared)) == 7  # a dry run deletes nothing
    assert remote.collect_garbage(keep, min_age_s=0, dry_run=False)[:2] == (removed, files)
    assert {p.stem for p in remote_entries(shared)} == keep
    blobs = {p.name for p in (shared / "files").rglob("*") if p.is_file()}
    assert blobs < old_blobs | blobs and len(blobs) < len(old_blobs | blobs)
    other = clone(project, tmp_path / "b")
    assert set(run(other, remote_at(shared)).values()) == {"restored"}  # what the lock names survived
    assert remote.collect_garbage(set(), min_age_s=3600, dry_run=False)[1] == 0  # young files are kept


def _driver(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(DRIVER), str(root), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def test_two_machines_pushing_the_same_keys_at_once_leave_valid_entries(
    project: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (project / "specs.json").write_text(json.dumps([spec_to_json(s) for s in chain()]))
    machines = [clone(project, tmp_path / name) for name in ("a", "b")]
    procs = [_driver(root, "--remote", str(shared)) for root in machines]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    assert all("warning" not in err for _, err in results), results
    assert len(remote_entries(shared)) == 4
    assert not [p for p in shared.rglob("*.tmp")]  # no half-written file left behind

    third = clone(project, tmp_path / "c")
    done = subprocess.run([sys.executable, str(DRIVER), str(third), "--remote", str(shared)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "done " not in done.stdout and done.stdout.count("from remote cache") == 4, done.stdout
    assert (third / "adapt.lock").read_bytes() == (machines[0] / "adapt.lock").read_bytes()


def test_a_no_op_build_never_imports_fsspec(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (project / "specs.json").write_text(json.dumps([spec_to_json(s) for s in chain()]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.run([sys.executable, str(DRIVER), str(project), "--remote", str(shared)],
                           capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert first.returncode == 0 and 'IMPORTED=["fsspec"]' in first.stderr, first.stderr
    again = subprocess.run([sys.executable, str(DRIVER), str(project), "--remote", str(shared)],
                           capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert again.returncode == 0 and "IMPORTED=[]" in again.stderr, again.stderr


def test_directory_outputs_round_trip(project: Path, tmp_path: Path, kinds: list[str]) -> None:
    from adaptfile.plan.model import StepSpec

    specs = (StepSpec("docs.pages", "test.pages", inputs=("docs/*.md",)),)
    shared = tmp_path / "shared"
    run(project, remote_at(shared), specs=specs)
    other = clone(project, tmp_path / "b")
    kinds.clear()
    assert run(other, remote_at(shared), specs=specs) == {"docs.pages": "restored"} and kinds == []
    pages = sorted(p.name for p in (other / "build/docs.pages/pages").iterdir())
    assert pages == ["0000.txt", "0001.txt"]
    assert (other / "adapt.lock").read_bytes() == (project / "adapt.lock").read_bytes()
