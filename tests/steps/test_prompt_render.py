"""Step prompt.render: readable files, budget fitting, deterministic bytes; `adapt ask --prompt-only`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adaptfile.cli.app import App
from adaptfile.cli.ask_prompt import prompt_only
from adaptfile.engine.protocol import StepContext
from adaptfile.knowledge.embedders import HashingEmbedder, register_embedder
from adaptfile.steps import examples_load, icl_shots, prompt_render

TRAIN = "".join(
    json.dumps(
        {"question": f"How do I reset router model {i}?", "answer": f"Hold button {i} for ten seconds."}
    )
    + "\n"
    for i in range(12)
)
EVAL = json.dumps(
    {"question": "How do I reset router model 3 after a firmware update went wrong?", "answer": "x"}
)
TOML = '[project]\nname = "t"\ntask = "qa"\ninstruction = "Answer briefly."\n[model]\nbase = "scratch"\n'


def _run(kind: object, root: Path, step_id: str, params: dict, upstream: dict[str, Path]) -> Path:
    out = root / "build" / step_id
    out.mkdir(parents=True)
    ctx = StepContext(step_id, "k", params, root, (), upstream, out, root / "w", io.StringIO())
    kind.run(ctx)  # type: ignore[attr-defined]
    return out


def _build(root: Path, selection: str = "diverse", shots: int = 4, max_tokens: int = 4096) -> dict[str, Path]:
    register_embedder("test-hashing", lambda: HashingEmbedder(dims=64))
    ex = _run(examples_load.kind, root, "examples.load", {"data.examples.path": "train.jsonl"}, {})
    ev = _run(examples_load.kind, root, "eval.load", {"data.eval.path": "eval.jsonl"}, {})
    icl = {
        "icl.shots": shots,
        "icl.selection": selection,
        "project.seed": 0,
        "rag.embed_model": "test-hashing",
    }
    sh = _run(icl_shots.kind, root, "icl.shots", icl, {"examples.load": ex})
    params = {"project.task": "qa", "project.instruction": "Answer briefly.", "icl.template": None,
              "constraints.max_prompt_tokens": max_tokens, "model.base": "scratch"}  # fmt: skip
    pr = _run(prompt_render.kind, root, "prompt.render", params, {"icl.shots": sh, "eval.load": ev})
    steps = {"examples.load": ex, "eval.load": ev, "icl.shots": sh, "prompt.render": pr}
    manifest = {"schema": 1, "steps": {s: {"kind": s, "key": "k", "outputs": {}} for s in steps}}
    (root / "build" / "manifest.json").write_text(json.dumps(manifest))
    return steps


@pytest.fixture
def project(tree) -> Path:
    return tree({"adapt.toml": TOML, "train.jsonl": TRAIN, "eval.jsonl": EVAL + "\n"})


def test_writes_readable_files(project: Path) -> None:
    out = _build(project)["prompt.render"]
    settings = json.loads((out / "prompt.json").read_text())
    assert settings["shots"] == 4 and settings["format"] == "plain" and settings["warnings"] == []
    assert settings["longest_question"] == "eval.load line 1" and settings["template"] == "shipped:qa.j2"
    assert set(settings["tokens"]) == {"instruction", "shots", "context", "question", "total"}
    assert (out / "system.txt").read_text() == "Answer briefly.\n"
    assert (out / "template.j2").read_text().startswith("{#- Question answering")
    assert len((out / "shots.jsonl").read_text().splitlines()) == 4
    example = (out / "example.txt").read_text()
    assert example.startswith("### System:\nAnswer briefly.") and "firmware update went wrong?" in example


def test_rendering_is_byte_identical(project: Path, tmp_path_factory) -> None:
    first = _build(project)["prompt.render"]
    other = tmp_path_factory.mktemp("again")
    for name in ("adapt.toml", "train.jsonl", "eval.jsonl"):
        (other / name).write_bytes((project / name).read_bytes())
    second = _build(other)["prompt.render"]
    for name in prompt_render.kind.outputs:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_budget_drops_shots_and_reports_how_many_remain(project: Path) -> None:
    settings = json.loads((_build(project, max_tokens=4096)["prompt.render"] / "prompt.json").read_text())
    limit = settings["tokens"]["total"] - 1
    root = project.parent / "small"
    root.mkdir()
    for name in ("adapt.toml", "train.jsonl", "eval.jsonl"):
        (root / name).write_bytes((project / name).read_bytes())
    fitted = json.loads((_build(root, max_tokens=limit)["prompt.render"] / "prompt.json").read_text())
    assert fitted["shots"] == 3 and fitted["tokens"]["total"] <= limit
    assert "1 of 4 shots dropped" in fitted["warnings"][0] and "3 remain" in fitted["warnings"][0]


def test_no_shot_fits_points_at_fine_tuning(project: Path) -> None:
    settings = json.loads((_build(project, max_tokens=40)["prompt.render"] / "prompt.json").read_text())
    assert settings["shots"] == 0
    assert "fine-tune" in settings["warnings"][0] and "docs/strategies/lora.md" in settings["warnings"][0]


def test_prompt_only_prints_the_exact_prompt(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(project, selection="similar", shots=2)
    prompt_only(App(directory=project), ["How do I reset router model 7?"], as_json=True)
    shown = json.loads(capsys.readouterr().out)
    assert set(shown) == {"variant", "question", "prompt", "messages", "shots", "tokens", "prompt_tokens"}
    assert shown["variant"] is None and shown["prompt_tokens"] == shown["tokens"]["total"]
    assert shown["shots"][0]["input"] != "How do I reset router model 7?"  # never its own shot
    assert shown["prompt"].endswith("Question: How do I reset router model 7?\nAnswer:\n\n### Assistant:\n")
    assert shown["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert shown["tokens"]["total"] >= shown["tokens"]["shots"] > 0
    prompt_only(App(directory=project), ["Where?", ""], as_json=False)
    assert "Question: Where?" in capsys.readouterr().out


def test_prompt_only_without_a_build_says_what_to_run(tree) -> None:
    from adaptfile.errors import NotBuilt

    root = tree({"adapt.toml": TOML})
    with pytest.raises(NotBuilt, match="no built prompt"):
        prompt_only(App(directory=root), ["q"], as_json=True)
