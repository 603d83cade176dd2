"""Real architectures end to end: for each family served by the Hub stand-in, plan → build (icl + lora)
→ ask works, the adapter loads with plain peft, and all-linear LoRA targets that family's modules.
One family runs by default; the whole matrix is `slow`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubstandin.families import ALL_LINEAR_TARGETS
from hubstandin.models import model_files

from .hub_project import adapt, write_project

pytest.importorskip("peft")

LORA_TOML = """[project]
name = "family"
task = "qa"

[model]
base = "acme/{family}"

[data.examples]
path = "data/train.jsonl"

[data.eval]
path = "data/eval.jsonl"

[strategy]
include = ["icl", "{method}"]
exclude = ["rag", {excluded}]

[icl]
shots = 1
selection = "first"

[{method}]
epochs = 1
max_seq_len = 64
"""
METHODS = ("lora", "qlora", "prefix", "full", "cpt", "pretrain")
LOAD_ADAPTER = """
import json, sys
from huggingface_hub import snapshot_download
from peft import PeftModel
from transformers import AutoModelForCausalLM
base = AutoModelForCausalLM.from_pretrained(snapshot_download(sys.argv[1], revision=sys.argv[2]))
model = PeftModel.from_pretrained(base, sys.argv[3])
print(json.dumps(sorted(model.peft_config["default"].target_modules)))
"""
FAMILIES = [
    pytest.param(name, marks=() if name == "qwen2" else pytest.mark.slow) for name in ALL_LINEAR_TARGETS
]


def _project(root: Path, family: str, method: str) -> Path:
    excluded = ", ".join(f'"{m}"' for m in METHODS if m != method)
    toml = LORA_TOML.format(family=family, method=method, excluded=excluded)
    return write_project(root, toml=toml)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_plans_builds_asks_and_loads_with_plain_peft(hub, tmp_path: Path, family: str) -> None:
    repo = hub.add_repo(f"acme/{family}", model_files(family))
    root = _project(tmp_path / "p", family, "lora")
    env = hub.subprocess_env(tmp_path)
    for args in (("plan",), ("build",), ("ask", "What is item 1?")):
        done = adapt(root, env, *args)
        assert done.returncode == 0, f"adapt {' '.join(args)}: {done.stdout[-1500:]}{done.stderr[-3000:]}"
    adapter = root / "build/lora.train/adapter"
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_ADAPTER, f"acme/{family}", repo.sha, str(adapter)],
        capture_output=True,
        text=True,
        env=hub.subprocess_env(tmp_path, offline=True),
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    wrapped = {name.rsplit(".", 1)[-1] for name in json.loads(loaded.stdout.splitlines()[-1])}
    assert sorted(wrapped) == ALL_LINEAR_TARGETS[family]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prefix", "full"])
@pytest.mark.parametrize("family", list(ALL_LINEAR_TARGETS))
def test_family_prefix_and_full_train_or_are_rejected_with_a_reason(
    hub, tmp_path: Path, family: str, method: str
) -> None:
    hub.add_repo(f"acme/{family}", model_files(family))
    root = _project(tmp_path / "p", family, method)
    env = hub.subprocess_env(tmp_path)
    plan = adapt(root, env, "plan", "--json")
    if plan.returncode == 3:  # the planner refuses the method for this family: it must say why
        assert method in plan.stderr and family in plan.stderr, plan.stderr
        return
    assert plan.returncode == 0, plan.stderr
    done = adapt(root, env, "build")
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
