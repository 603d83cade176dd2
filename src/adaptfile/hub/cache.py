"""The local Hugging Face cache read directly: refs and snapshot files, with no network and no httpx import.

Hand-written on purpose: `huggingface_hub.try_to_load_from_cache` imports the HTTP stack (≈0.16 s),
which `adapt plan` cannot afford; the cache layout it reads is documented and stable
(https://huggingface.co/docs/huggingface_hub/guides/manage-cache).
"""

from __future__ import annotations

import os
import re

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def is_commit(revision: str | None) -> bool:
    """True for a full 40-hex commit id."""
    return bool(revision) and bool(_COMMIT.match(revision or ""))


def looks_like_repo_id(name: str) -> bool:
    """ "Qwen/Qwen2.5-0.5B-Instruct" or "gpt2": not a path (no leading ./, ../, / or ~, one slash at most)."""
    return bool(_REPO_ID.match(name)) and ".." not in name and not name.endswith((".gguf", ".json"))


def _repo_dir(repo: str) -> str:
    from huggingface_hub import constants  # cheap: constants only

    return os.path.join(constants.HF_HUB_CACHE, "models--" + repo.replace("/", "--"))


def cached_ref(repo: str, revision: str) -> str | None:
    """The commit the local cache has for `revision` (a branch, tag or commit), or None."""
    folder = _repo_dir(repo)
    if is_commit(revision):
        return revision if os.path.isdir(os.path.join(folder, "snapshots", revision)) else None
    try:
        with open(os.path.join(folder, "refs", revision), encoding="utf-8") as handle:
            commit = handle.read().strip()
    except OSError:
        return None
    return commit if is_commit(commit) else None


def cached_file(repo: str, commit: str, filename: str) -> str | None:
    """The path of `filename` in the cached snapshot of `commit`, or None when it is not cached."""
    path = os.path.join(_repo_dir(repo), "snapshots", commit, filename)
    return path if os.path.isfile(path) else None
