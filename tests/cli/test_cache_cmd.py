"""`adapt build / status / cache` with [cache] remote, through the real CLI: a stand-in planner with trivial
kinds for the commands and their errors; the mini quickstart on moto's S3 server for the whole round trip."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import adaptfile.plan
from adaptfile.cli import main
from adaptfile.plan.model import Plan, StepSpec, StrategyDecision

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "engine"))
sys.path.insert(0, str(TESTS / "runtime"))

from engine_kinds import register_kinds  # noqa: E402
from mini_project import write_mini_project  # noqa: E402

from moto_s3 import free_port, moto_server  # noqa: E402

TOML = """[project]
name = "demo"

[model]
base = "scratch"

[cache]
{cache}
"""


def fake_plan(project, pins=None) -> Plan:  # type: ignore[no-untyped-def]
    steps = (
        StepSpec("docs.concat", "test.concat", inputs=("docs/*.md",)),
        StepSpec("docs.upper", "test.upper", deps=("docs.concat",), params={"upper.mode": "upper"}),
    )
    return Plan(project.config.project.name, (StrategyDecision("rag", "chosen", "test"),), (), steps)


def make_demo(root: Path, cache: str) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs/a.md").write_text("alpha\n")
    (root / "adapt.toml").write_text(TOML.format(cache=cache))
    return root


@pytest.fixture
def stand_in_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adaptfile.plan, "plan_project", fake_plan, raising=False)
    register_kinds()


def adapt(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["-C", str(root), *args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def clone(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".adapt", "build"))
    return dest


def test_build_pushes_and_a_clone_restores_reports_and_pulls(
    stand_in_planner, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "shared").mkdir()
    dev = make_demo(tmp_path / "dev", 'remote = "../shared"')  # relative to adapt.toml
    code, out, err = adapt(dev, capsys, "build")
    assert code == 0 and err == "" and "done docs.upper" in out
    code, out, _ = adapt(dev, capsys, "cache", "status")
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [["docs.concat", "yes", "yes"],
                                                                    ["docs.upper", "yes", "yes"]]  # fmt: skip

    ci = clone(dev, tmp_path / "ci")
    code, out, _ = adapt(ci, capsys, "status")
    assert "stale  docs.concat: cache entry missing; restorable from remote" in out
    assert "stale  docs.upper: cache entry missing; restorable from remote" in out
    code, out, _ = adapt(ci, capsys, "build", "-n")
    assert "restore  docs.upper: cache entry missing; from the remote cache" in out
    code, out, _ = adapt(ci, capsys, "build", "--frozen")
    assert code == 0 and "restored docs.upper from remote cache" in out and "run " not in out
    assert "2 restored" in out
    assert (ci / "adapt.lock").read_bytes() == (dev / "adapt.lock").read_bytes()

    laptop = clone(dev, tmp_path / "laptop")
    code, out, _ = adapt(laptop, capsys, "cache", "pull", "docs.concat", "--json")
    rows = json.loads(out)["steps"]
    assert code == 0 and [(r["step"], r["action"]) for r in rows] == [("docs.concat", "pulled")]
    code, out, _ = adapt(laptop, capsys, "build", "--no-remote")
    assert code == 0 and "run docs.upper" in out and "run docs.concat" not in out


def test_no_remote_and_read_only_push_nothing(stand_in_planner, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    dev = make_demo(tmp_path / "dev", f'remote = "{shared}"')
    assert adapt(dev, capsys, "build", "--no-remote")[0] == 0
    assert list(shared.iterdir()) == []
    pr = make_demo(tmp_path / "pr", f'remote = "file://{shared}"\npush = false')
    assert adapt(pr, capsys, "build")[0] == 0
    assert list(shared.iterdir()) == []
    assert adapt(dev, capsys, "build", "--force", "--no-push")[0] == 0
    assert list(shared.iterdir()) == []
    code, out, _ = adapt(dev, capsys, "cache", "push")
    assert code == 0 and "pushed 2 entries" in out
    code, out, _ = adapt(dev, capsys, "cache", "push")
    assert code == 0 and "pushed" not in out


def test_a_remote_that_is_down(stand_in_planner, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("s3fs")
    endpoint = f"http://127.0.0.1:{free_port()}"
    dev = make_demo(tmp_path / "dev", f'remote = "s3://cache/p"\nendpoint_url = "{endpoint}"')
    code, out, err = adapt(dev, capsys, "build")
    assert code == 0 and "build finished: 2 ran" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "unreachable" in warnings[0], err
    assert (dev / "build/docs.upper/out.txt").read_text() == "ALPHA\n"  # nothing lost locally
    code, _, err = adapt(dev, capsys, "cache", "push")
    assert code == 1 and "error: remote cache 's3://cache/p' is unreachable" in err
    assert "--no-remote" in err


def test_a_bucket_that_does_not_exist_is_a_configuration_error(
    stand_in_planner, s3_env, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    dev = make_demo(tmp_path / "dev", f'remote = "s3://no-such-bucket/p"\nendpoint_url = "{s3_env.endpoint}"')
    code, _, err = adapt(dev, capsys, "cache", "status")
    assert code == 3 and "bucket 'no-such-bucket'" in err and "does not exist" in err
    code, _, err = adapt(dev, capsys, "build")  # the build still proceeds locally
    assert code == 0 and err.count("warning:") == 1


def test_wrong_credentials_are_a_configuration_error(
    stand_in_planner, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("moto.server")
    with moto_server(authenticate=True) as s3:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGKEY")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-planted-secret")
        dev = make_demo(tmp_path / "dev", f'remote = "s3://bucket/p"\nendpoint_url = "{s3.endpoint}"')
        code, _, err = adapt(dev, capsys, "cache", "push")
        assert code == 3 and "access denied" in err and "credentials" in err
        code, out, err = adapt(dev, capsys, "build")  # proceeds locally with one warning
        assert code == 0 and err.count("warning:") == 1 and "access denied" in err
        assert "wrong-planted-secret" not in out + err


@pytest.mark.parametrize(
    ("cache", "expected"),
    [
        ('remote = "ftp://host/cache"', "cache.remote: unknown URL scheme 'ftp://'"),
        ('remote = "s3://AKIAEXAMPLE:planted-secret-1@bucket/p"', "credentials in the URL are refused"),
        (
            'remote = "/srv/cache"\nendpoint_url = "http://minio:9000"',
            "endpoint_url applies to an s3:// remote only",
        ),
    ],
)
def test_bad_remote_configuration_is_one_error_exit_3(
    stand_in_planner, tmp_path: Path, capsys, cache: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    dev = make_demo(tmp_path / "dev", cache)
    code, _, err = adapt(dev, capsys, "build")
    assert code == 3 and expected in err
    assert "planted-secret-1" not in err and "AKIAEXAMPLE" not in err
    assert not (dev / ".adapt").exists()


def test_a_missing_backend_names_the_extra(stand_in_planner, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    dev = make_demo(tmp_path / "dev", 'remote = "gs://bucket/p"')
    code, _, err = adapt(dev, capsys, "cache", "status")
    assert code == 3 and "needs the gcsfs package" in err and "pip install 'adaptfile[gcs]'" in err


def test_cache_gc_needs_remote_and_a_lock(stand_in_planner, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "shared").mkdir()
    dev = make_demo(tmp_path / "dev", f'remote = "{tmp_path / "shared"}"')
    assert adapt(dev, capsys, "cache", "gc", "--keep-lock", "adapt.lock")[0] == 2
    assert adapt(dev, capsys, "cache", "gc", "--remote")[0] == 2
    adapt(dev, capsys, "build")
    (dev / "docs/a.md").write_text("changed\n")
    adapt(dev, capsys, "build")  # two new keys pushed; the old two are no longer in adapt.lock
    code, out, _ = adapt(dev, capsys, "cache", "gc", "--remote", "--keep-lock", str(dev / "adapt.lock"),
                         "--min-age", "0", "--json")  # fmt: skip
    assert code == 0 and len(json.loads(out)["removed"]) == 2
    code, out, _ = adapt(dev, capsys, "gc", "--keep", "0")
    assert code == 0 and len(list((tmp_path / "shared" / "entries").rglob("*.json"))) == 2  # gc: local only


def test_local_only_refuses_a_remote_off_the_machine(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project = write_mini_project(tmp_path / "p")  # local_only = true
    toml = project / "adapt.toml"
    toml.write_text(toml.read_text() + '\n[cache]\nremote = "s3://bucket/p"\n')
    code, _, err = adapt(project, capsys, "plan")
    assert code == 3 and "cache.remote = 's3://bucket/p' sends build outputs off this machine" in err
    assert len(err.strip().splitlines()) == 2  # the error and its hint
    (tmp_path / "shared").mkdir()
    toml.write_text(toml.read_text().replace("s3://bucket/p", str(tmp_path / "shared")))
    assert adapt(project, capsys, "plan")[0] == 0  # a shared disk is a local path


def test_local_only_refuses_serving_beyond_loopback(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    project = write_mini_project(tmp_path / "p")  # local_only = true
    code, _, err = adapt(project, capsys, "serve", "--host", "0.0.0.0")
    assert code == 3 and "--host 0.0.0.0 serves the model to other machines" in err


SECRET = "planted-Secret-" + uuid.uuid4().hex
KEY_ID = "AKIAPLANTED" + uuid.uuid4().hex[:8].upper()


def _adapt_process(root: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _assert_no_secret(roots: list[Path], objects: list[bytes], text: str) -> None:
    written = [p for root in roots for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    assert written and objects
    for secret in (SECRET, KEY_ID):
        for path in written:
            assert secret.encode() not in path.read_bytes(), path
        assert not [blob for blob in objects if secret.encode() in blob]
        assert secret not in text


def test_no_written_file_holds_the_credentials(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Real processes with a planted secret in the standard chain; every file they write is searched."""
    bucket = f"demo-{uuid.uuid4().hex[:8]}"
    s3_server.make_bucket(bucket)
    env = {**os.environ, **s3_server.env, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_ENDPOINT_URL": s3_server.endpoint, "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    dev = make_demo(tmp_path / "dev", f'remote = "s3://{bucket}/demo"')
    probe = [sys.executable, "-c", STAND_IN]
    text = ""
    for root, args in [(dev, ["build"]), (dev, ["cache", "push"]), (clone(dev, tmp_path / "ci"), ["status"]),
                       (tmp_path / "ci", ["build"]), (tmp_path / "ci", ["cache", "status", "--json"])]:  # fmt: skip
        done = subprocess.run(
            [*probe, "-C", str(root), *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        text += done.stdout + done.stderr
    assert "2 restored" in text and "restorable from remote" in text
    fs = s3_server.filesystem()
    _assert_no_secret([dev, tmp_path / "ci"], [fs.cat_file(p) for p in fs.find(f"{bucket}/demo")], text)


STAND_IN = """
import sys
sys.path[:0] = [{engine!r}, {cli!r}]
import adaptfile.plan
from test_cache_cmd import fake_plan
from engine_kinds import register_kinds
register_kinds()
adaptfile.plan.plan_project = fake_plan
from adaptfile.cli import main
main(sys.argv[1:])
""".format(engine=str(TESTS / "engine"), cli=str(TESTS / "cli"))


@pytest.mark.slow
def test_the_mini_quickstart_round_trip_on_s3_leaks_no_secret(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    bucket = f"mini-{uuid.uuid4().hex[:8]}"
    s3_server.make_bucket(bucket)
    env = {**os.environ, **s3_server.env, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_ENDPOINT_URL": s3_server.endpoint, "HF_HUB_OFFLINE": "1"}  # fmt: skip
    dev = write_mini_project(tmp_path / "dev", target=100.0)
    toml = dev / "adapt.toml"
    toml.write_text(toml.read_text().replace("local_only = true", "local_only = false")
                    + f'\n[cache]\nremote = "s3://{bucket}/mini"\n')  # fmt: skip
    code, out = _adapt_process(dev, env, "build")
    assert code == 0 and "warning: remote" not in out, out
    ran = [line for line in out.splitlines() if line.startswith("run ")]
    assert ran

    ci = clone(dev, tmp_path / "ci")
    code, status = _adapt_process(ci, env, "status")
    assert "restorable from remote" in status and "fresh " not in status, status
    code, out = _adapt_process(ci, env, "build", "--frozen")
    assert code == 0, out
    assert [line for line in out.splitlines() if line.startswith("run ")] == []  # 0 steps run
    assert out.count("from remote cache") == len(ran)
    assert (ci / "adapt.lock").read_bytes() == (dev / "adapt.lock").read_bytes()
    code, listing = _adapt_process(ci, env, "cache", "status")
    assert code == 0
    fs = s3_server.filesystem()
    _assert_no_secret(
        [dev, ci], [fs.cat_file(path) for path in fs.find(f"{bucket}/mini")], status + out + listing
    )
