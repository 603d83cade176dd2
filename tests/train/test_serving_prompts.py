"""Every example project that trains: each training prompt equals, byte for byte, its variant's serving prompt."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SFT = ("lora", "qlora", "prefix", "full")


def _adapt(root: Path, *args: str, input: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "adaptfile", "-C", str(root), *args], input=input,
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def offline_copy(project: Path, root: Path, local_model: Path) -> Path:
    """The project on this machine's CPU, with one epoch per training, and a hub base model replaced by a
    tiny local one (no download); its data, templates and prompt settings stay as shipped."""
    shutil.copytree(project, root, ignore=shutil.ignore_patterns("build", ".adapt", "adapt.lock"))
    toml = (root / "adapt.toml").read_text(encoding="utf-8")
    if not re.search(r'^base = "scratch"', toml, re.M):
        toml = re.sub(r'^base = ".*"', f"base = {json.dumps(str(local_model))}", toml, flags=re.M)
        toml = re.sub(r"^(revision|params) = .*\n", "", toml, flags=re.M)
    toml = re.sub(r'^device = "cuda"', 'device = "cpu"', toml, flags=re.M)
    toml = re.sub(r"^gpu = .*\n", "", toml, flags=re.M)
    toml = re.sub(r"^epochs = .*", "epochs = 1", toml, flags=re.M)
    (root / "adapt.toml").write_text(toml, encoding="utf-8")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("project", sorted(p.parent.name for p in EXAMPLES.glob("*/adapt.toml")))
def test_every_training_prompt_is_the_serving_prompt(project: str, tiny_base: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    root = offline_copy(EXAMPLES / project, tmp_path / project, tiny_base)
    plan = json.loads(_adapt(root, "plan", "--json"))
    trained = {v["name"]: s for v in plan["variants"] for s in v["steps"] if s.removesuffix(".train") in SFT}
    if not trained:
        pytest.skip(f"examples/{project} trains no model on prompts")
    _adapt(root, "build", *sorted(set(trained.values())), "prompt.render")
    for variant, step in trained.items():
        rows = [json.loads(line) for line in (root / "build" / step / "train_prompts.jsonl").open()]
        assert all("\n" not in r["input"] and r["input"] == r["input"].strip() for r in rows)
        questions = "".join(r["input"] + "\n" for r in rows)
        out = _adapt(root, "ask", "--prompt-only", "--variant", variant, "--json", input=questions)
        served = [json.loads(line)["prompt"] for line in out.splitlines()]
        assert served == [r["prompt"] for r in rows], f"{project}: {variant}"
