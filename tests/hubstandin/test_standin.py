"""The Hub stand-in answers huggingface_hub, unmodified, the way the Hub does: commits, cache refs, errors, auth."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi, hf_hub_download, snapshot_download  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .repo import git_blob_sha  # noqa: E402

FILES = {
    "config.json": b'{"model_type": "llama"}\n',
    "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
    "sub/notes.txt": b"nested file\n",
}


def cache_folder(cache: Path, repo_id: str) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}"


def test_model_info_reports_the_commit_main_points_at(hub) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    info = HfApi(endpoint=hub.url).model_info("org/tiny", revision="main")
    assert info.id == "org/tiny"
    assert info.sha == repo.sha and len(info.sha) == 40
    assert sorted(s.rfilename for s in info.siblings) == sorted(FILES)
    assert (info.private, info.gated) == (False, False)
    assert info.config == {"model_type": "llama"}


def test_moving_main_changes_the_sha_and_old_commits_still_resolve(hub, tmp_path: Path) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    first = repo.sha
    repo.tag("v1")
    second = repo.commit({**repo.files(), "config.json": b'{"model_type": "qwen2"}\n'}, "Bump config")
    api = HfApi(endpoint=hub.url)
    assert second != first
    assert api.model_info("org/tiny").sha == second
    assert api.model_info("org/tiny", revision="v1").sha == first
    assert api.model_info("org/tiny", revision=first).sha == first
    old = hf_hub_download("org/tiny", "config.json", revision=first, cache_dir=tmp_path, endpoint=hub.url)
    new = hf_hub_download("org/tiny", "config.json", cache_dir=tmp_path, endpoint=hub.url)
    assert (Path(old).read_bytes(), Path(new).read_bytes()) == (
        FILES["config.json"],
        b'{"model_type": "qwen2"}\n',
    )
    refs = api.list_repo_refs("org/tiny")
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", second)]
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", first)]


def test_commit_shas_are_deterministic(hub) -> None:
    shas = [hub.add_repo(f"org/r{i}", FILES).sha for i in range(2)]
    assert shas[0] == shas[1]


def test_download_pins_the_commit_in_the_cache_refs(hub, tmp_path: Path) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    path = Path(hf_hub_download("org/tiny", "config.json", cache_dir=tmp_path, endpoint=hub.url))
    folder = cache_folder(tmp_path, "org/tiny")
    assert (folder / "refs" / "main").read_text() == repo.sha
    assert path == folder / "snapshots" / repo.sha / "config.json"
    hf_hub_download("org/tiny", "model.safetensors", cache_dir=tmp_path, endpoint=hub.url)
    blobs = {p.name for p in (folder / "blobs").iterdir()}  # git blob id for git files, sha256 for LFS files
    assert blobs == {
        git_blob_sha(FILES["config.json"]),
        hashlib.sha256(FILES["model.safetensors"]).hexdigest(),
    }


def test_snapshot_download_fetches_every_file_of_the_commit(hub, tmp_path: Path) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    snapshot = Path(snapshot_download("org/tiny", cache_dir=tmp_path, endpoint=hub.url))
    assert snapshot.name == repo.sha
    assert {str(p.relative_to(snapshot)): p.read_bytes() for p in snapshot.rglob("*") if p.is_file()} == FILES
    assert (cache_folder(tmp_path, "org/tiny") / "refs" / "main").read_text() == repo.sha


def test_tree_and_paths_info_list_files_and_folders(hub) -> None:
    hub.add_repo("org/tiny", FILES)
    api = HfApi(endpoint=hub.url)
    top = {entry.path for entry in api.list_repo_tree("org/tiny")}
    assert top == {"config.json", "model.safetensors", "sub"}
    every = {entry.path for entry in api.list_repo_tree("org/tiny", recursive=True)}
    assert every == {*FILES, "sub"}
    (weights,) = api.get_paths_info("org/tiny", ["model.safetensors"])
    assert weights.lfs.sha256 == hashlib.sha256(FILES["model.safetensors"]).hexdigest()


def test_a_range_request_gets_part_of_the_file(hub) -> None:
    hub.add_repo("org/tiny", FILES)
    answer = httpx.get(f"{hub.url}/org/tiny/resolve/main/sub/notes.txt", headers={"Range": "bytes=7-"})
    assert (answer.status_code, answer.content) == (206, FILES["sub/notes.txt"][7:])


def test_an_unknown_repo_is_repository_not_found(hub, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url).model_info("org/missing")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/missing", "config.json", cache_dir=tmp_path, endpoint=hub.url)


def test_an_unknown_revision_is_revision_not_found(hub, tmp_path: Path) -> None:
    hub.add_repo("org/tiny", FILES)
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=hub.url).model_info("org/tiny", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/tiny", "config.json", revision="0" * 40, cache_dir=tmp_path, endpoint=hub.url)


def test_a_missing_file_is_entry_not_found_and_cached_as_absent(hub, tmp_path: Path) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "tokenizer.json", cache_dir=tmp_path, endpoint=hub.url)
    assert (cache_folder(tmp_path, "org/tiny") / ".no_exist" / repo.sha / "tokenizer.json").exists()


def test_a_gated_repo_needs_a_granted_token(hub, tmp_path: Path) -> None:
    hub.add_repo("org/gated", FILES, gated=True, token="hf_granted")
    hub.tokens.add("hf_other")  # a valid token of a user who has not accepted the license
    api = HfApi(endpoint=hub.url)
    assert api.model_info("org/gated").gated == "manual"  # the model page is public
    download = dict(repo_id="org/gated", filename="config.json", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download(**download, token=False)
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download(**download, token="hf_other")
    assert refused.value.response.status_code == 403
    assert Path(hf_hub_download(**download, token="hf_granted")).read_bytes() == FILES["config.json"]


def test_a_private_repo_is_not_found_without_its_token(hub) -> None:
    repo = hub.add_repo("org/private", FILES, private=True, token="hf_owner")
    hub.tokens.add("hf_other")
    api = HfApi(endpoint=hub.url)
    for token in (False, "hf_other"):
        with pytest.raises(RepositoryNotFoundError):
            api.model_info("org/private", token=token)
    info = api.model_info("org/private", token="hf_owner")
    assert (info.sha, info.private) == (repo.sha, True)


def test_an_unknown_token_is_invalid_credentials_not_a_missing_repo(hub) -> None:
    hub.add_repo("org/tiny", FILES)
    with pytest.raises(HfHubHTTPError) as rejected:
        HfApi(endpoint=hub.url).model_info("org/tiny", token="hf_typo")
    assert not isinstance(rejected.value, RepositoryNotFoundError)
    assert rejected.value.response.status_code == 401


def test_activate_routes_the_default_client_in_process(hub, tmp_path: Path, monkeypatch) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    hf_home = hub.activate(monkeypatch, tmp_path)
    assert huggingface_hub.model_info("org/tiny").sha == repo.sha  # the module-level HfApi
    assert HfApi().model_info("org/tiny").sha == repo.sha
    path = Path(hf_hub_download("org/tiny", "config.json"))
    assert path.is_relative_to(hf_home / "hub")
    assert [r.repo_id for r in huggingface_hub.scan_cache_dir().repos] == ["org/tiny"]


HUB_SCRIPT = """
import json, sys
from huggingface_hub import hf_hub_download, snapshot_download
print(json.dumps([snapshot_download(sys.argv[1]), hf_hub_download(sys.argv[1], "config.json")]))
"""


def run_hub_script(env: dict[str, str], repo_id: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT, repo_id], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_subprocess_uses_the_stand_in_and_offline_reads_the_warm_cache(hub, tmp_path: Path) -> None:
    repo = hub.add_repo("org/tiny", FILES)
    online = run_hub_script(hub.subprocess_env(tmp_path), "org/tiny")
    assert Path(online[0]).name == repo.sha
    assert online[0].startswith(str(tmp_path / "hf" / "hub"))
    repo.commit({**repo.files(), "config.json": b"{}"})  # main moves upstream; offline must not see it
    served = len(hub.requests)
    offline = run_hub_script(hub.subprocess_env(tmp_path, offline=True), "org/tiny")
    assert offline == online
    assert len(hub.requests) == served
