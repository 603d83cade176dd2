"""The shared build cache on S3: moto's standalone server on 127.0.0.1, spoken to over HTTP by s3fs."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from engine_kinds import chain

from adaptfile.engine import BuildOptions, FunctionKind, LockMeta, StepContext, build, register
from adaptfile.engine.remote import RemoteCache, RemoteSettings
from adaptfile.engine.reporter import Reporter
from adaptfile.plan.model import StepSpec

META = LockMeta(("rag",), {"base": "tiny", "revision": "main"})
MIB = 1 << 20


class Recorder(Reporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.transfers: list[tuple[str, str, int, int]] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def transfer(self, step_id: str, verb: str, done: int, total: int) -> None:
        self.transfers.append((step_id, verb, done, total))


def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"cache-{uuid.uuid4().hex[:12]}"
    s3.make_bucket(name)
    return name


def remote(url: str, endpoint: str | None, **settings) -> RemoteCache:  # type: ignore[no-untyped-def]
    return RemoteCache(RemoteSettings(url, endpoint_url=endpoint, **settings))


def run(root: Path, cache: RemoteCache, reporter: Reporter | None = None, specs=None) -> dict[str, str]:
    result = build(root, specs or chain(), META, BuildOptions(remote=cache), reporter or Recorder())
    assert result.ok
    return {o.step_id: o.outcome for o in result.outcomes}


def clone(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".adapt", "build"))
    return dest


def test_a_fresh_clone_restores_from_s3(s3_env, project: Path, tmp_path: Path, kinds: list[str]) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{bucket(s3_env)}/team/project"
    first = Recorder()
    assert set(run(project, remote(url, s3_env.endpoint), first).values()) == {"ran"}
    assert first.warnings == []
    fs = s3_env.filesystem()
    assert len(fs.find(f"{url}/entries")) == 4

    other = clone(project, tmp_path / "b")
    kinds.clear()
    assert set(run(other, remote(url, s3_env.endpoint)).values()) == {"restored"}
    assert kinds == []
    assert (other / "adapt.lock").read_bytes() == (project / "adapt.lock").read_bytes()


def test_the_endpoint_comes_from_aws_endpoint_url(s3_env, project: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{bucket(s3_env)}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)
    reporter = Recorder()
    run(project, remote(url, None), reporter)
    assert reporter.warnings == []
    assert len(s3_env.filesystem().find(f"{url}/entries")) == 4


def big(ctx: StepContext) -> None:
    """A 12 MiB output, written in blocks (an adapter or an index stands in)."""
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(ctx.output("weights.bin"), "wb") as handle:
        for index in range(12):
            handle.write(block[index:] + block[:index])


def test_large_outputs_stream_in_parallel_parts_with_byte_progress(
    s3_env, project: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    register(FunctionKind("test.big", big, ("weights.bin",)))
    specs = (StepSpec("model.train", "test.big"),)
    url = f"s3://{bucket(s3_env)}/p"
    settings = {"part_bytes": 5 * MIB, "parallel": 3}
    pushed = Recorder()
    run(project, remote(url, s3_env.endpoint, **settings), pushed, specs)
    assert pushed.warnings == []
    uploads = [(done, total) for _, verb, done, total in pushed.transfers if verb == "upload"]
    assert uploads[-1] == (12 * MIB, 12 * MIB) and len(uploads) > 1  # bytes, reported as they go

    fs = s3_env.filesystem()
    (blob,) = fs.find(f"{url}/files")
    assert fs.info(blob)["ETag"].strip('"').endswith("-3")  # a multipart upload: 3 parts of 5 MiB

    other = clone(project, tmp_path / "b")
    pulled = Recorder()
    assert run(other, remote(url, s3_env.endpoint, **settings), pulled, specs) == {"model.train": "restored"}
    downloads = [(done, total) for _, verb, done, total in pulled.transfers if verb == "download"]
    assert downloads[-1] == (12 * MIB, 12 * MIB)
    built = other / "build/model.train/weights.bin"
    assert built.read_bytes() == (project / "build/model.train/weights.bin").read_bytes()


def test_a_remote_that_is_down_costs_one_warning(project: Path, kinds: list[str]) -> None:
    from moto_s3 import free_port

    reporter = Recorder()
    down = remote("s3://cache/p", f"http://127.0.0.1:{free_port()}")
    assert set(run(project, down, reporter).values()) == {"ran"}
    assert len(reporter.warnings) == 1, reporter.warnings
    assert "unreachable" in reporter.warnings[0] and "local cache only" in reporter.warnings[0]
    assert (project / "adapt.lock").exists()


def test_a_bucket_that_does_not_exist_is_named(s3_env, project: Path) -> None:  # type: ignore[no-untyped-def]
    reporter = Recorder()
    run(project, remote("s3://no-such-bucket/p", s3_env.endpoint), reporter)
    assert len(reporter.warnings) == 1
    assert "bucket 'no-such-bucket'" in reporter.warnings[0] and "does not exist" in reporter.warnings[0]


def test_corrupt_object_on_s3_is_a_miss(s3_env, project: Path, tmp_path: Path, kinds: list[str]) -> None:  # type: ignore[no-untyped-def]
    url = f"s3://{bucket(s3_env)}"
    run(project, remote(url, s3_env.endpoint))
    fs = s3_env.filesystem()
    key = json.loads((project / "adapt.lock").read_text())["steps"]["docs.concat"]["key"]
    meta = json.loads(fs.cat_file(f"{url}/entries/{key[:2]}/{key}.json"))
    digest = meta["files"]["out.txt"]
    fs.pipe_file(f"{url}/files/{digest[:2]}/{digest}", b"tampered")

    other = clone(project, tmp_path / "b")
    kinds.clear()
    reporter = Recorder()
    outcomes = run(other, remote(url, s3_env.endpoint), reporter)
    assert outcomes["docs.concat"] == "ran" and kinds == ["docs.concat"]
    assert len(reporter.warnings) == 1 and "corrupt" in reporter.warnings[0]
    assert (other / "build/docs.upper/out.txt").read_text() == "ALPHA\nBETA\n"
