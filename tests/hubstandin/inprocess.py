"""Point huggingface_hub (and transformers) at the stand-in inside the test process, for one test.

huggingface_hub reads HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE and friends into `huggingface_hub.constants` when
it is first imported, and a few modules copy them again at import time (the module-level `HfApi()` behind
`huggingface_hub.model_info`, `scan_cache_dir`'s default). Setting the environment variables in a running
process therefore changes nothing once the library is imported; these attributes are what must change.
A subprocess with `hub.env(tmp_path)` needs none of this, and is the more faithful choice.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

_CLEARED_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
)


def activate(
    monkeypatch: pytest.MonkeyPatch, url: str, hf_home: Path, *, token: str | None, offline: bool
) -> None:
    """Patch the environment and every import-time copy of it, undone by `monkeypatch` after the test."""
    import huggingface_hub
    from huggingface_hub import constants

    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {"HF_ENDPOINT": url, "HF_HOME": str(hf_home)}
    if token is not None:
        env["HF_TOKEN"] = token  # read from the environment at call time by huggingface_hub.get_token()
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    hub_cache = os.path.join(hf_home, "hub")
    for name, value in {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": hub_cache,
        "HUGGINGFACE_HUB_CACHE": hub_cache,
        "HF_ASSETS_CACHE": os.path.join(hf_home, "assets"),
        "HUGGINGFACE_ASSETS_CACHE": os.path.join(hf_home, "assets"),
        "HF_TOKEN_PATH": os.path.join(hf_home, "token"),
        "HF_STORED_TOKENS_PATH": os.path.join(hf_home, "stored_tokens"),
        "HF_HUB_OFFLINE": offline,
    }.items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(
        huggingface_hub.hf_api.api, "endpoint", url
    )  # behind huggingface_hub.model_info & co.
    cache_manager = importlib.import_module("huggingface_hub.utils._cache_manager")
    monkeypatch.setattr(cache_manager, "HF_HUB_CACHE", hub_cache)  # scan_cache_dir()'s default
    for module in ("transformers.utils.hub", "transformers.dynamic_module_utils"):
        if module in sys.modules:  # imported earlier: holds its own copy; imported later: reads the patch
            monkeypatch.setattr(sys.modules[module], "HF_MODULES_CACHE", os.path.join(hf_home, "modules"))
