"""The step DAG: only chosen strategies' steps, params isolated per step, inputs relative to the root."""

from __future__ import annotations

import json
from pathlib import Path

from plan_worlds import profile, toml

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
template = "templates/qa.j2"
"""
DATA = profile(300, knowledge=1_000_000, eval_rows=50)


def ids(result) -> list[str]:
    return [s.id for s in result.steps]


def test_steps_for_rag_icl_and_lora(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    assert ids(result) == [
        "knowledge.load", "knowledge.chunk", "rag.index", "examples.load", "eval.load", "icl.shots",
        "rag.train_context", "lora.train", "prompt.render", "eval.base", "eval.icl", "eval.icl+rag",
        "eval.icl+rag+lora", "report",
    ]  # fmt: skip
    assert result.step("eval.load").kind == "examples.load"
    assert set(result.step("eval.icl+rag+lora").deps) == {  # a fine-tuned variant serves without shots
        "eval.load", "prompt.render", "rag.index", "lora.train",
    }  # fmt: skip
    assert set(result.step("eval.icl").deps) == {"eval.load", "prompt.render", "icl.shots"}
    assert result.step("eval.icl").kind == "eval.variant"
    assert result.step("report").kind == "eval.report"
    assert set(result.step("report").deps) == {
        "eval.base", "eval.icl", "eval.icl+rag", "eval.icl+rag+lora", "lora.train", "rag.train_context",
        "examples.load", "eval.load",  # the report's data checks: bad rows, eval/train leakage
    }  # fmt: skip


def test_rag_variants_train_on_retrieved_passages(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    assert result.step("rag.train_context").deps == ("rag.index", "examples.load")
    train = result.step("lora.train")
    assert set(train.deps) == {"examples.load", "rag.train_context"}  # never eval.load, never icl.shots
    assert train.params["constraints.max_prompt_tokens"] == 4096 and "model.context" in train.params
    rag_lora = next(v for v in result.variants if v.name == "icl+rag+lora")
    assert "icl.shots" not in rag_lora.steps and "rag.index" in rag_lora.steps


def test_training_sequences_hold_the_served_prompt(plan) -> None:
    with_rag = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA).settings["lora"]["max_seq_len"]
    without = plan(toml(BODY + '[strategy]\nexclude = ["rag"]\n', base="Qwen2.5-0.5B"), DATA)
    assert with_rag > without.settings["lora"]["max_seq_len"]
    assert "rag.train_context" not in {s.id for s in without.steps}


def test_deps_always_come_first(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    seen: set[str] = set()
    for step in result.steps:
        assert set(step.deps) <= seen, step.id
        seen.add(step.id)


def test_inputs_are_globs_and_paths_relative_to_the_root(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    assert result.step("knowledge.load").inputs == ("docs/**/*.md",)
    assert result.step("examples.load").inputs == ("data/train.jsonl",)
    assert result.step("eval.load").inputs == ("data/eval.jsonl",)
    assert result.step("prompt.render").inputs == ("templates/qa.j2",)


def test_params_are_only_what_each_step_reads(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    assert result.step("knowledge.chunk").params == {
        "rag.chunk_size": 224,
        "rag.chunk_overlap": 28,
        "rag.embed_model": "sentence-transformers/all-MiniLM-L6-v2",
    }
    assert result.step("rag.index").params == {
        "rag.embed_model": "sentence-transformers/all-MiniLM-L6-v2",
        "rag.store": "simple",
        "rag.retriever": "hybrid",
        "rag.top_k": 4,
        "rag.window": 1,  # 4 hits × (224 ± 1 neighbour) fit the default 4,096-token budget; ±2 would not
    }
    lora = result.step("lora.train").params
    assert lora["lora.r"] == 16 and lora["lora.batch_size"] >= 1 and lora["model.base"] == "Qwen2.5-0.5B"
    assert not any(key.startswith(("rag.", "strategy.")) for key in lora)
    assert {key for key in lora if key.startswith("hardware.")} == {
        "hardware.train.device",
        "hardware.train.count",
        "hardware.train.nodes",
        "hardware.train.parallel",  # the planner's choice, not the config's "auto"
    }
    assert lora["hardware.train.parallel"] == "single"


def test_changing_lora_r_touches_only_lora_train(plan) -> None:
    before = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    after = plan(toml(BODY + "[lora]\nr = 64\n", base="Qwen2.5-0.5B"), DATA)
    changed = [a.id for a, b in zip(before.steps, after.steps, strict=True) if a.params != b.params]
    assert changed == ["lora.train"]  # the report shows lora's new estimate, but estimates are not keyed
    assert before.step("report").shown != after.step("report").shown
    assert "lora.r" not in after.step("rag.index").params
    assert "lora.r" not in after.step("eval.icl+rag+lora").params


def test_changing_chunk_size_does_not_touch_training_params(plan) -> None:
    before = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    after = plan(toml(BODY + "[rag]\nchunk_size = 128\n", base="Qwen2.5-0.5B"), DATA)
    changed = [a.id for a, b in zip(before.steps, after.steps, strict=True) if a.params != b.params]
    # chunk size reshapes the prompt budget: the passage width and shot count re-resolve (the report's training
    # estimate too, shown but not keyed: examples are trained with their passages); training's params do not change
    assert changed == ["knowledge.chunk", "rag.index", "icl.shots", "prompt.render"]


def test_no_steps_for_strategies_not_chosen(plan) -> None:
    result = plan(toml('[data.examples]\npath = "t.jsonl"\n', base="Qwen2.5-0.5B"), profile(300))
    assert ids(result) == ["examples.load", "icl.shots", "prompt.render"]
    assert [s.id for s in plan(toml(""), profile(None)).steps] == ["prompt.render"]


def test_scratch_adds_the_tokenizer_and_pretraining(plan) -> None:
    body = '[model]\nbase = "scratch"\n[data.knowledge]\npaths = ["docs/*.md"]\nchanges = "daily"\n'
    result = plan(toml(body), profile(None, knowledge=100_000))
    assert ids(result) == [
        "knowledge.load", "knowledge.chunk", "rag.index", "pretrain.tokenizer", "pretrain.train", "prompt.render",
    ]  # fmt: skip
    assert result.step("pretrain.tokenizer").params == {"model.scratch.vocab_size": 2048, "project.seed": 0}
    assert result.step("pretrain.train").params["model.scratch.layers"] == 2


def test_local_model_directory_is_an_input_of_training(plan, tmp_path: Path) -> None:
    (tmp_path / "models/tiny").mkdir(parents=True)
    cfg = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 2048, "max_position_embeddings": 256}  # fmt: skip
    (tmp_path / "models/tiny/config.json").write_text(json.dumps(cfg))
    data = profile(300)
    data = type(data)(examples=type(data.examples)(**{**data.examples.__dict__, "tokens_max": 200}))
    result = plan(toml("[needs]\ncustom_style = true\n", base="models/tiny"), data)
    assert result.step("lora.train").inputs == ("models/tiny/**", "templates/*.j2")


def test_variants_follow_the_chosen_strategies_cheapest_first(plan) -> None:
    result = plan(toml(BODY, base="Qwen2.5-0.5B"), DATA)
    assert [v.name for v in result.variants] == ["base", "icl", "icl+rag", "icl+rag+lora"]
    assert result.variant("icl+rag+lora").strategies == ("icl", "rag", "lora")
    assert result.variant("base").steps == ("prompt.render",)
    assert result.variant("icl+rag+lora").steps[-1] == "lora.train"
    for variant in result.variants:  # each eval step reads only its own variant's artifacts
        assert set(result.step(variant.eval_step).deps) == {"eval.load", *variant.steps}


def test_variant_names_match_the_goal_ladder(plan) -> None:
    body = BODY + '[goal]\nmetric = "exact_match"\ntarget = 0.8\n'
    result = plan(toml(body, base="Qwen2.5-0.5B"), DATA)
    names = [v.name for v in result.variants]
    assert set(result.ladder) <= set(names)
    rungs = [v.name for v in result.variants if v.rung]
    assert rungs == list(result.ladder)
    assert [v.name for v in result.variants if v.conditional] == list(result.ladder[1:])
    assert result.step("report").params["goal.metric"] == "exact_match"


def test_no_eval_set_means_no_eval_steps(plan) -> None:
    body = BODY.replace('[data.eval]\npath = "data/eval.jsonl"\n', "")
    result = plan(toml(body, base="Qwen2.5-0.5B"), DATA)
    assert not [s for s in result.steps if s.kind.startswith("eval.")]
    assert result.variants  # still servable


def test_classify_eval_reads_the_label_set_from_the_examples_and_its_decoding(plan) -> None:
    body = '[data.examples]\npath = "t.csv"\n[data.eval]\npath = "e.csv"\n[strategy]\nexclude = ["icl"]\n'
    result = plan(toml(body + '[eval]\nclassify = "likelihood"\n', base="Qwen2.5-0.5B", task="classify"),
                  profile(300, eval_rows=50))  # fmt: skip
    base = result.step("eval.base")
    assert "examples.load" in base.deps and base.params["eval.classify"] == "likelihood"
    qa = plan(toml(body, base="Qwen2.5-0.5B"), profile(300, eval_rows=50)).step("eval.base")
    assert "eval.classify" not in qa.params
