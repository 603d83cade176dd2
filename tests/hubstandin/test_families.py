"""The tiny families: real config layout, reproducible bytes, and loading through the stand-in in a subprocess."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from .families import ALL_LINEAR_TARGETS, FAMILIES
from .models import _build, model_files
from .server import HubStandIn

NAMES = list(FAMILIES)
HERE = Path(__file__).parent

# What each real template renders for one user turn, and for a system + user conversation (the real Mistral
# v0.1 and Gemma 2 templates refuse a system message; GPT-NeoX, a base model, has no template at all).
QUESTION = "How do I reset the router?"
CHAT_USER = {
    "qwen2": "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n",
    "llama": f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{QUESTION}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "mistral": f"<s>[INST] {QUESTION} [/INST]",
    "gemma2": f"<bos><start_of_turn>user\n{QUESTION}<end_of_turn>\n<start_of_turn>model\n",
    "phi3": f"<|user|>\n{QUESTION}<|end|>\n<|assistant|>\n",
    "gpt_neox": "ERROR ValueError",
}
CHAT_SYSTEM = {
    "qwen2": f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n",
    "llama": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
    f"<|start_header_id|>user<|end_header_id|>\n\n{QUESTION}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "mistral": "ERROR TemplateError: Conversation roles must alternate user/assistant/user/assistant/...",
    "gemma2": "ERROR TemplateError: System role not supported",
    "phi3": f"<|system|>\nBe brief.<|end|>\n<|user|>\n{QUESTION}<|end|>\n<|assistant|>\n",
    "gpt_neox": "ERROR ValueError",
}
# Keys only that family's real config.json has: the layout, not just the model_type, is the real one.
FAMILY_KEYS = {
    "qwen2": {"use_sliding_window", "max_window_layers", "sliding_window"},
    "llama": {"rope_theta", "pretraining_tp", "mlp_bias"},
    "mistral": {"sliding_window", "rope_theta"},
    "gemma2": {"query_pre_attn_scalar", "final_logit_softcapping", "attn_logit_softcapping", "head_dim"},
    "phi3": {"auto_map", "original_max_position_embeddings", "embd_pdrop", "resid_pdrop"},
    "gpt_neox": {"rotary_pct", "rotary_emb_base", "use_parallel_residual"},
}


def token_names(files: dict[str, bytes], ids: int | list[int]) -> list[str]:
    tokenizer = json.loads(files["tokenizer.json"])
    by_id = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    by_id |= {t["id"]: t["content"] for t in tokenizer["added_tokens"]}
    return [by_id[i] for i in (ids if isinstance(ids, list) else [ids])]


@pytest.mark.parametrize("name", NAMES)
def test_config_json_has_the_real_layout_and_token_ids(name: str) -> None:
    files = model_files(name)
    config, family = json.loads(files["config.json"]), FAMILIES[name]
    assert config["model_type"] == name
    assert FAMILY_KEYS[name] <= config.keys()
    assert ("num_key_value_heads" in config) == (name != "gpt_neox")
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):  # ids that name the real family's tokens
        if key in family.config:
            named = family.config[key]
            assert token_names(files, config[key]) == (named if isinstance(named, list) else [named])
    tokenizer_config = json.loads(files["tokenizer_config.json"])
    assert tokenizer_config.get("chat_template") == family.chat_template
    assert config["vocab_size"] >= len(json.loads(files["tokenizer.json"])["model"]["vocab"])


def test_models_are_byte_identical_when_rebuilt() -> None:
    for name in NAMES:  # seeded init and serialisation: the same bytes, though torch's RNG has moved on
        assert _build.__wrapped__(name) == model_files(name)


TOKENIZER_HASHES = """
import hashlib, json
from hubstandin.families import FAMILIES
from hubstandin.models import _train_tokenizer
print(json.dumps({n: hashlib.sha256(_train_tokenizer(f).to_str(pretty=True).encode()).hexdigest()
                  for n, f in FAMILIES.items()}))
"""


def test_tokenizers_train_to_the_same_bytes_in_another_process() -> None:
    """tokenizers trains in Rust, whose hash maps are seeded per process: ties must not depend on that."""
    here = {name: hashlib.sha256(model_files(name)["tokenizer.json"]).hexdigest() for name in NAMES}
    env = {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", TOKENIZER_HASHES], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == here


@dataclass
class Served:
    hub: HubStandIn
    home: Path
    commits: dict[str, str]  # family -> the commit loaded (main has moved past it since)
    online: dict[str, dict]


def load_families(env: dict[str, str], commits: dict[str, str]) -> dict[str, dict]:
    spec = json.dumps([[name, f"tiny/{name}", sha] for name, sha in commits.items()])
    done = subprocess.run(
        [sys.executable, str(HERE / "load_families.py"), spec],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """Every family on one stand-in, loaded once by commit in a subprocess; then `main` moves upstream."""
    hub = HubStandIn().start()
    repos = {name: hub.add_repo(f"tiny/{name}", model_files(name)) for name in NAMES}
    commits = {name: repo.sha for name, repo in repos.items()}
    home = tmp_path_factory.mktemp("families")
    online = load_families(hub.subprocess_env(home), commits)
    for repo in repos.values():
        repo.commit({**repo.files(), "README.md": b"moved on\n"}, "Update README.md")
    yield Served(hub, home, commits, online)
    hub.stop()
    assert not hub.unhandled and not hub.crashes, (hub.unhandled, hub.crashes)


@pytest.mark.parametrize("name", NAMES)
def test_each_family_loads_with_transformers_from_its_commit(served: Served, name: str) -> None:
    result, config = served.online[name], json.loads(model_files(name)["config.json"])
    assert result["model_class"] == config["architectures"][0]
    assert result["model_type"] == name
    assert result["dtype"] == config["torch_dtype"]
    assert result["round_trip"] and result["finite"]
    assert result["adds_bos"] == (FAMILIES[name].bos_prepended is not None)  # so a template's BOS doubles
    assert result["logits_shape"][-1] == config["vocab_size"]
    snapshots = served.home / "hf" / "hub" / f"models--tiny--{name}" / "snapshots"
    assert [p.name for p in snapshots.iterdir()] == [served.commits[name]]


@pytest.mark.parametrize("name", NAMES)
def test_chat_template_renders_like_the_real_model(served: Served, name: str) -> None:
    result = served.online[name]
    assert result["chat_user"].startswith(CHAT_USER[name])
    assert result["chat_system"].startswith(CHAT_SYSTEM[name])


@pytest.mark.parametrize("name", NAMES)
def test_all_linear_wraps_the_family_modules(served: Served, name: str) -> None:
    targets = served.online[name]["lora_targets"]
    assert sorted({t.rsplit(".", 1)[-1] for t in targets}) == ALL_LINEAR_TARGETS[name]
    assert len(targets) == 2 * len(ALL_LINEAR_TARGETS[name])  # each of the 2 layers


def test_offline_with_a_warm_cache_loads_the_pinned_commits_without_the_network(served: Served) -> None:
    requests_before = len(served.hub.requests)
    offline = load_families(served.hub.subprocess_env(served.home, offline=True), served.commits)
    assert offline == served.online
    assert len(served.hub.requests) == requests_before
