"""Completion-only labels token by token, packing that keeps examples apart, and the memory preflight."""

from __future__ import annotations

import pytest
import torch

from adaptfile.errors import StepFailed
from adaptfile.profile.formats import Example
from adaptfile.train import data as td
from adaptfile.train import packing, preflight, recipe
from adaptfile.train.models import load_tokenizer

from .conftest import lora_params


def test_training_text_is_the_assembled_serving_prompt_plus_target_and_eos(tiny_base, tmp_path):
    from adaptfile.prompt.assemble import PromptBuild
    from adaptfile.prompt.template import Passage

    tokenizer = load_tokenizer(str(tiny_base), None)
    params = {
        "project.task": "qa",
        "project.instruction": "Answer briefly.",
        "constraints.max_prompt_tokens": 200,
    }
    chunk = {"path": "manual.md", "start": 0, "end": 24, "text": "Hold reset for 10 s to reset."}
    render = td.serving_renderer(tmp_path, params, tokenizer, {"How do I reset the router?": [chunk]})
    prompt, completion = render(Example("How do I reset the router?", "Hold reset for 10 s."))
    build = PromptBuild.for_training(tmp_path, params, tokenizer)
    served = build.assemble("How do I reset the router?", [Passage("manual.md", 0, 24, chunk["text"])])
    assert prompt == served.prompt and chunk["text"] in prompt and "Answer briefly." in prompt
    assert completion == "Hold reset for 10 s." + tokenizer.eos_token
    (row,) = td.prompt_rows(
        [Example("How do I reset the router?", "Hold reset for 10 s.")], render, tokenizer
    )
    assert row["prompt"] == prompt and row["prompt_tokens"] == len(tokenizer(prompt)["input_ids"])


def small_template_renderer(tokenizer):
    """A small plain template for tests of token bookkeeping (never of prompt equality)."""

    def render(example):
        return f"Answer.\nQ: {example.input}\nA:", f" {example.output}{tokenizer.eos_token}"

    return render


def test_completion_only_masking_token_by_token(tiny_base):
    tokenizer = load_tokenizer(str(tiny_base), None)
    render = small_template_renderer(tokenizer)
    example = Example("how reset router", "router reset")
    (record,) = td.sft_records([example], render, tokenizer, 64)
    prompt, completion = render(example)
    p = tokenizer(prompt)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    assert list(record.input_ids) == p + c
    assert list(record.labels) == [td.IGNORE] * len(p) + c
    assert c[-1] == tokenizer.eos_token_id
    assert tokenizer.decode([t for t in record.labels if t != td.IGNORE]) == completion


def test_long_examples_keep_their_answer_within_max_len(tiny_base):
    tokenizer = load_tokenizer(str(tiny_base), None)
    render = small_template_renderer(tokenizer)
    (record,) = td.sft_records([Example("how " + "router " * 80, "reset")], render, tokenizer, 32)
    assert len(record) == 32 and record.labels[-1] == tokenizer.eos_token_id


def test_best_fit_bins_respect_capacity_and_keep_everything():
    lengths = [5, 9, 3, 7, 2, 8, 1, 6]
    bins = packing.best_fit(lengths, 10)
    assert sorted(i for b in bins for i in b) == list(range(8))
    assert all(sum(lengths[i] for i in b) <= 10 for b in bins)
    assert len(bins) == 5  # ceil(41 / 10)


def test_packing_keeps_examples_separate(tiny_base):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    records = [
        td.Record((1, 5, 6, 7), (1, 5, 6, 7)),
        td.Record((1, 9, 10, 11, 12, 13), (1, 9, 10, 11, 12, 13)),
    ]
    (row,) = packing.pack(records, capacity=10)
    assert row.position_ids == (0, 1, 2, 3, 0, 1, 2, 3, 4, 5)
    assert row.labels[4] == td.IGNORE  # nothing is predicted across the boundary
    batch = packing.Collator(0, packed=True)([row])
    with torch.no_grad():  # use_cache=False as in training: with a cache transformers skips packed masks
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits[0]
        alone = [model(input_ids=torch.tensor([r.input_ids])).logits[0] for r in records]
    assert torch.allclose(packed[:4], alone[0], atol=1e-5)
    assert torch.allclose(packed[4:], alone[1], atol=1e-5)


def test_epoch_order_is_seeded_and_covers_fractional_epochs():
    rows = [packing.Row((i,), (i,), (0,), 1) for i in range(10)]
    order = packing.epoch_order(rows, 1.5, seed=3)
    assert len(order) == 15 and sorted(r.input_ids[0] for r in order[:10]) == list(range(10))
    assert order == packing.epoch_order(rows, 1.5, seed=3) != packing.epoch_order(rows, 1.5, seed=4)


def test_heldout_share_is_seeded_capped_and_can_be_zero():
    items = list(range(40))
    train, heldout = td.split_heldout(items, seed=1, fraction=0.1)
    assert len(heldout) == 4 and sorted(train + heldout) == items
    assert (train, heldout) == td.split_heldout(items, seed=1, fraction=0.1)
    assert len(td.split_heldout(list(range(5000)), seed=1, fraction=0.5)[1]) == td.HELDOUT_MAX
    assert td.split_heldout(items, seed=1, fraction=0.0) == (items, [])


def test_impossible_memory_estimate_stops_before_training(tiny_base, examples_dir, make_ctx, monkeypatch):
    monkeypatch.setattr(
        preflight, "available_gb", lambda device, processes=1: (1e-6, "cpu (tiny test device)")
    )
    ctx = make_ctx(lora_params(tiny_base), {"examples.load": examples_dir})
    with pytest.raises(StepFailed, match=r"training needs ≈.* GB .* stopped before training"):
        recipe.setup(ctx, "lora")
    assert not list(ctx.work.rglob("checkpoint-*"))
