"""pretrain.tokenizer + pretrain.train from a corpus, then cpt and full fine-tuning on the result."""

from __future__ import annotations

import json

import pytest

from adaptfile.steps.pretrain_tokenizer import PretrainTokenizer
from adaptfile.steps.train_models import CPT_TRAIN, FULL_TRAIN, PREFIX_TRAIN, PRETRAIN_TRAIN

from .conftest import corpus, lora_params, write_jsonl


def _train_params(method: str, **extra):
    knobs = {"epochs": 3.0, "learning_rate": 3e-3, "batch_size": 4, "grad_accum": 1, "gradient_checkpointing": False,
             "precision": "fp32", "max_seq_len": 48, "packing": True, "save_every": 50}  # fmt: skip
    return {
        **{f"{method}.{k}": v for k, v in knobs.items()},
        "project.seed": 0,
        "hardware.train.device": "cpu",
        **extra,
    }


@pytest.fixture(scope="module")
def scratch_model(tmp_path_factory):
    """The quickstart path: a tokenizer and a 2-layer Llama trained on the knowledge corpus."""
    import io

    from adaptfile.engine.protocol import StepContext

    root = tmp_path_factory.mktemp("scratch")
    knowledge = write_jsonl(root / "knowledge.load", "documents.jsonl", [{"text": t} for t in corpus(40)])

    def ctx(name, params, upstream, step):
        (root / name / "out").mkdir(parents=True)
        (root / name / "work").mkdir(parents=True)
        return StepContext(
            step, name, params, root, (), upstream, root / name / "out", root / name / "work", io.StringIO()
        )

    tok = ctx(
        "tok",
        {"model.scratch.vocab_size": 300, "project.seed": 0},
        {"knowledge.load": knowledge},
        "pretrain.tokenizer",
    )
    PretrainTokenizer().run(tok)
    arch = {"model.scratch.layers": 2, "model.scratch.hidden": 32, "model.scratch.heads": 2,
            "model.scratch.vocab_size": 300, "model.scratch.context": 64}  # fmt: skip
    train = ctx("pre", {**arch, **_train_params("pretrain")},
                {"pretrain.tokenizer": tok.out, "knowledge.load": knowledge}, "pretrain.train")  # fmt: skip
    PRETRAIN_TRAIN.run(train)
    return train.out, knowledge


def test_pretrain_tokenizer_and_model_load_with_auto_classes(scratch_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = scratch_model
    run = json.loads((out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.num_hidden_layers == 2 and not model.config.tie_word_embeddings
    assert model.config.intermediate_size == 88  # 8·ceil(8·32/3/8)
    assert (
        tokenizer.decode(tokenizer("router reset", add_special_tokens=False)["input_ids"]) == "router reset"
    )


def test_cpt_continues_the_model(scratch_model, make_ctx):
    out, knowledge = scratch_model
    params = _train_params("cpt", **{"model.base": "scratch", "cpt.learning_rate": 1e-3})
    ctx = make_ctx(params, {"knowledge.load": knowledge, "pretrain.train": out}, step="cpt.train")
    CPT_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]
    assert (ctx.out / "model" / "model.safetensors").is_file()


def test_full_fine_tuning(tiny_base, examples_dir, make_ctx):
    params = _train_params(
        "full", **{"model.base": str(tiny_base), "project.task": "qa", "full.batch_size": 8}
    )
    ctx = make_ctx(params, {"examples.load": examples_dir}, step="full.train")
    FULL_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"]


def test_prefix_tuning_trains_without_packing(tiny_base, examples_dir, make_ctx):
    params = _train_params("prefix", **{"model.base": str(tiny_base), "prefix.virtual_tokens": 4,
                                        "prefix.learning_rate": 3e-2, "project.task": "qa"})  # fmt: skip
    ctx = make_ctx(params, {"examples.load": examples_dir}, step="prefix.train")
    PREFIX_TRAIN.run(ctx)
    run = json.loads((ctx.out / "metrics.json").read_text())
    assert run["eval_loss"] < run["eval_loss_start"] and run["packing"] is False
    assert (ctx.out / "adapter" / "adapter_config.json").is_file()


def test_lora_merge_writes_a_plain_model(tiny_base, examples_dir, make_ctx):
    from transformers import AutoModelForCausalLM

    from adaptfile.steps.train_models import LORA_TRAIN

    ctx = make_ctx(
        lora_params(tiny_base, **{"lora.merge": True, "lora.epochs": 1.0}), {"examples.load": examples_dir}
    )
    LORA_TRAIN.run(ctx)
    assert AutoModelForCausalLM.from_pretrained(ctx.out / "merged").config.num_hidden_layers == 2
