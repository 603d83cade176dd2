"""plan_to_json: the shape, all eight strategies, identical bytes across runs, no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from plan_worlds import MACHINE, profile, toml

from adaptfile.config import STRATEGIES, load_project
from adaptfile.errors import ConfigError
from adaptfile.plan import make_plan, plan_project, plan_to_json, resolve_hardware, resolve_model

BODY = """
[hardware.train]
device = "cuda"
gpu = "L4"
[data.knowledge]
paths = ["docs/**/*.md"]
changes = "weekly"
[data.examples]
path = "data/train.jsonl"
[data.eval]
path = "data/eval.jsonl"
[goal]
metric = "f1"
target = 0.7
"""


def dumps(tmp_path) -> str:
    config = toml(BODY, base="Qwen/Qwen2.5-7B-Instruct")
    result = make_plan(
        config, profile(300, knowledge=500_000, eval_rows=60), resolve_hardware(config, MACHINE),
        resolve_model(config, tmp_path),
    )  # fmt: skip
    return json.dumps(plan_to_json(result), sort_keys=True)


def test_shape(tmp_path) -> None:
    data = json.loads(dumps(tmp_path))
    assert data["project"] == "demo"
    assert [s["name"] for s in data["strategies"]] == list(STRATEGIES)
    for s in data["strategies"]:
        assert set(s) == {"name", "decision", "reason", "estimate", "conditional"}
        assert s["decision"] in ("chosen", "rejected", "not_needed") and s["reason"]
    assert all(set(step) == {"id", "kind", "deps", "params", "inputs"} for step in data["steps"])
    assert data["ladder"] == ["icl+rag", "icl+rag+lora"]  # 7B LoRA fits an L4's 24 GB
    assert {"settings", "warnings", "model", "hardware", "chosen"} <= set(data)
    assert data["model"]["params"] == 7_000_000_000 and data["hardware"]["train"]["name"] == "L4"
    lora = data["strategies"][2]["estimate"]
    assert lora["label"] == "estimate, ±30% until measured"


def test_identical_bytes_across_runs(tmp_path) -> None:
    assert dumps(tmp_path) == dumps(tmp_path)


def test_plan_project_reads_the_project(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "adapt.toml").write_text('[project]\nname = "p"\n[model]\nbase = "Qwen2.5-0.5B"\n')
    project = load_project(tmp_path)
    import adaptfile.profile as profile_pkg

    monkeypatch.setattr(profile_pkg, "profile_data", lambda _: profile(None), raising=False)
    assert plan_project(project).chosen() == ["icl"]
    (tmp_path / "adapt.toml").write_text('[project]\nname = "p"\n[model]\nbase = "acme/x"\n')
    with pytest.raises(ConfigError, match="parameter count"):
        plan_project(load_project(tmp_path))


def test_planning_imports_no_ml_library() -> None:
    code = (
        "import sys, adaptfile.plan, adaptfile.plan.rules\n"
        "heavy = {'torch', 'transformers', 'peft', 'llama_index', 'sentence_transformers', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
