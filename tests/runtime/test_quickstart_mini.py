"""The reduced quickstart end to end: every variant built and evaluated, manifest variants, a no-op rebuild."""

from __future__ import annotations

import json
from pathlib import Path

from mini_project import run_adapt

VARIANTS = ["base", "icl", "icl+rag", "icl+rag+lora"]


def test_build_evaluates_every_variant_and_writes_the_report(mini_build: Path) -> None:
    report = json.loads((mini_build / "build/report/report.json").read_text())
    assert [v["name"] for v in report["variants"]] == VARIANTS
    assert report["best"] in VARIANTS
    for variant in report["variants"]:
        assert {
            "exact_match",
            "f1",
            "answer_nll",
            "prompt_tokens",
            "latency_p50_ms",
            "latency_p95_ms",
        } <= set(variant["metrics"])
    rag = {v["name"]: v["metrics"] for v in report["variants"]}
    assert "hit_rate" in rag["icl+rag"] and "mrr" in rag["icl+rag"] and "hit_rate" not in rag["icl"]
    assert report["goal"]["met"] is False and report["goal"]["evaluated_rungs"] == ["icl+rag", "icl+rag+lora"]
    assert (mini_build / "build/report/goal.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (mini_build / "build/report/report.md").read_text()
    assert "| icl+rag+lora" in markdown and "estimate vs measured" in markdown


def test_lora_lowers_answer_nll(mini_build: Path) -> None:
    report = json.loads((mini_build / "build/report/report.json").read_text())
    nll = {v["name"]: v["metrics"]["answer_nll"] for v in report["variants"]}
    assert nll["icl+rag+lora"] < nll["icl+rag"] - 0.1


def test_manifest_describes_each_variant(mini_build: Path) -> None:
    manifest = json.loads((mini_build / "build/manifest.json").read_text())
    lora = manifest["variants"]["icl+rag+lora"]
    assert lora["adapter"] == "build/lora.train/adapter"
    assert lora["index"] == "build/rag.index/index"
    assert lora["model"]["id"] == "build/pretrain.train/model"
    for path in [lora["adapter"], lora["index"], lora["model"]["id"], *lora["prompt"]["files"]]:
        assert (mini_build / path).exists(), path
    assert manifest["variants"]["base"]["adapter"] is None
    assert manifest["variants"]["base"]["shots"] is False


def test_second_build_is_a_no_op(mini_build: Path) -> None:
    code, out, err = run_adapt(mini_build, "build")
    assert code == 0, err
    assert "up to date" in out
    assert "run " not in out


def test_require_goal_exits_1_when_not_met(mini_build: Path) -> None:
    code, out, err = run_adapt(mini_build, "build", "--require-goal")
    assert code == 1
    assert "not met" in out + err


def test_a_second_copy_builds_a_byte_identical_lock(mini_build: Path, tmp_path: Path) -> None:
    """Real steps (training, embedding, evaluation) in a fresh copy: the same adapt.lock, byte for byte."""
    from mini_project import write_mini_project

    other = write_mini_project(tmp_path / "elsewhere", target=0.01)
    code, out, err = run_adapt(other, "build")
    assert code == 0, out + err
    assert (other / "adapt.lock").read_bytes() == (mini_build / "adapt.lock").read_bytes()
