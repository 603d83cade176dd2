"""Each training example's prompt is, byte for byte, the prompt its variant serves for the same question."""

from __future__ import annotations

import json
from pathlib import Path

from mini_project import run_adapt


def test_training_prompts_equal_serving_prompts(mini_build: Path) -> None:
    rows = [json.loads(line) for line in (mini_build / "build/lora.train/train_prompts.jsonl").open()]
    assert rows and all(r["prompt_tokens"] > 0 and r["target_tokens"] > 0 for r in rows)
    questions = "".join(r["input"] + "\n" for r in rows)
    code, out, err = run_adapt(
        mini_build, "ask", "--prompt-only", "--variant", "icl+rag+lora", "--json", input=questions
    )
    assert code == 0, err
    served = [json.loads(line) for line in out.splitlines()]
    assert [s["prompt"] for s in served] == [r["prompt"] for r in rows]
    assert all("[docs/" in r["prompt"] for r in rows)  # each was trained with its retrieved passages
    assert all(not s["shots"] for s in served)  # a fine-tuned variant serves without demonstrations


def test_prompt_only_follows_the_variant(mini_build: Path) -> None:
    question = "How do I dim the lamp?"
    prompts = {}
    for variant in ("base", "icl", "icl+rag", "icl+rag+lora"):
        code, out, err = run_adapt(
            mini_build, "ask", "--prompt-only", "--variant", variant, "--json", question
        )
        assert code == 0, err
        prompts[variant] = json.loads(out)
    assert "[docs/" not in prompts["base"]["prompt"] and "[docs/" not in prompts["icl"]["prompt"]
    assert "[docs/" in prompts["icl+rag"]["prompt"] and "[docs/" in prompts["icl+rag+lora"]["prompt"]
    assert prompts["icl+rag+lora"]["shots"] == []  # a fine-tuned variant serves without demonstrations


def test_training_retrieval_recall_is_recorded_and_reported(mini_build: Path) -> None:
    recall = json.loads((mini_build / "build/rag.train_context/recall.json").read_text())
    context = [json.loads(line) for line in (mini_build / "build/rag.train_context/context.jsonl").open()]
    assert recall["examples"] == len(context) == recall["with_source"]
    assert recall["gold_retrieved"] == sum(1 for row in context if row["gold_rank"] is not None)
    report = json.loads((mini_build / "build/report/report.json").read_text())
    assert report["train_retrieval"]["recall"] == recall["recall"]
    assert "retrieval recall on the training examples" in (mini_build / "build/report/report.md").read_text()
