"""Runtime: one object per variant, loaded lazily and once; answers with citations; teacher-forced NLL."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from adaptfile.errors import AdaptError, UsageError
from adaptfile.runtime import Runtime
from adaptfile.runtime.artifacts import load_artifacts


def test_answer_has_text_citations_tokens_and_latency(mini_build: Path) -> None:
    runtime = Runtime.from_build(mini_build, "icl+rag+lora")
    answer = runtime.answer("How long is the warranty?")
    assert isinstance(answer.text, str)
    assert answer.prompt_tokens > 0 and answer.latency_ms > 0
    assert answer.completion_tokens <= runtime.max_new_tokens
    (citation,) = answer.citations  # rag.top_k = 1
    source = (mini_build / citation.path).read_text(encoding="utf-8")
    assert 0 <= citation.start < citation.end <= len(source)


def test_greedy_answers_are_deterministic(mini_build: Path) -> None:
    runtime = Runtime.from_build(mini_build, "icl")
    first = runtime.answer("How do I dim the lamp?")
    assert runtime.answer("How do I dim the lamp?").text == first.text
    assert first.citations == []  # no RAG in this variant


def test_model_and_index_load_once(mini_build: Path) -> None:
    runtime = Runtime.from_build(mini_build, "icl+rag")
    runtime.answer("How do I clean the lamp?")
    model, retriever = runtime.model, runtime.retriever
    runtime.answer("How long is the warranty?")
    assert runtime.model is model and runtime.retriever is retriever


def test_answer_nll_is_the_teacher_forced_loss_of_the_answer_tokens(mini_build: Path) -> None:
    runtime = Runtime.from_build(mini_build, "icl+rag+lora")
    question, gold = "How long is the warranty?", "Two years."
    prepared = runtime.prepare(question)
    nll = runtime.answer_nll(question, gold, prepared)
    tokenizer, model = runtime.model.tokenizer, runtime.model.model
    target = tokenizer(gold + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    context = prepared.ids[-(runtime.model.window - len(target)) :]  # the window holds prompt end + answer
    ids = torch.tensor([context + target])
    labels = torch.tensor([[-100] * len(context) + target])
    with torch.inference_mode():
        expected = model(input_ids=ids, labels=labels).loss.item()
    assert nll == pytest.approx(expected, rel=1e-4)


def test_label_nlls_equal_each_label_scored_alone(mini_build: Path) -> None:
    """One cached prompt pass and a padded batch of labels give each label's own total NLL."""
    runtime = Runtime.from_build(mini_build, "icl+rag+lora")
    prepared = runtime.prepare("How long is the warranty?")
    labels = ["Two years.", "no", "warranty_question"]
    nlls = runtime.model.label_nlls(prepared.ids, labels)
    tokenizer, model = runtime.model.tokenizer, runtime.model.model
    for label, nll in zip(labels, nlls, strict=True):
        target = tokenizer(label + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        longest = max(
            len(tokenizer(x + tokenizer.eos_token, add_special_tokens=False)["input_ids"]) for x in labels
        )
        context = prepared.ids[-(runtime.model.window - longest) :]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([context + target])).logits[0].float()
        logp = logits[len(context) - 1 : -1].log_softmax(-1)
        expected = -sum(float(logp[i, t]) for i, t in enumerate(target))
        assert nll == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("sliding_window", [None, 8])
def test_label_nlls_on_a_random_model_equal_each_label_scored_alone(mini_build: Path, sliding_window) -> None:
    """The one-pass block mask (and, for a sliding window shorter than prompt + labels, the shared cache)
    give each label the total NLL it gets alone after the prompt."""
    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build, "mistral", sliding_window=sliding_window)
    model = LoadedModel(lm, tokenizer, window=256)
    prompt = tokenizer("Which intent is this: my card has not arrived yet?")["input_ids"]
    # some labels start alike, so the trie shares their first tokens
    labels = ["card_arrival", "lost_or_stolen_card", "age_limit", "no", "card_linking", "card"]
    nlls = model.label_nlls(prompt, labels)
    for label, nll in zip(labels, nlls, strict=True):
        target = tokenizer(label + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model.model(input_ids=torch.tensor([prompt + target])).logits[0].float()
        logp = logits[len(prompt) - 1 : -1].log_softmax(-1)
        assert nll == pytest.approx(-sum(float(logp[i, t]) for i, t in enumerate(target)), rel=1e-4)


@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma"])
def test_label_nlls_continuing_a_shared_prefix_equal_scoring_each_prompt_whole(
    mini_build: Path, family
) -> None:
    """Prompts that share a long instruction: its cache is computed once, each row's pass continues it and
    crops it back, and every label's NLL is what the whole prompt gives without the shared cache."""
    from adaptfile.runtime.model import SHARED_PREFIX_TOKENS, LoadedModel

    tokenizer, lm = _random_lm(mini_build, family)
    model = LoadedModel(lm, tokenizer, window=512)
    instruction = "Classify the message into one intent. Intents: " + ", ".join(
        f"intent_{i}" for i in range(12)
    )
    prompts = [tokenizer(f"{instruction}\nMessage: {m}\nIntent:")["input_ids"]
               for m in ("my card has not arrived", "how old must I be?", "I lost my card")]  # fmt: skip
    labels = ["card_arrival", "age_limit", "lost_or_stolen_card", "card_linking", "card_not_working"]
    shared = model.shared_prefix(prompts)
    assert shared is not None and len(shared.ids) >= SHARED_PREFIX_TOKENS
    for prompt in prompts:
        assert model.label_nlls(prompt, labels, shared) == pytest.approx(
            model.label_nlls(prompt, labels), rel=1e-4
        )
        assert shared.cache.get_seq_length() == len(shared.ids)  # cropped back for the next prompt


def test_eval_step_picks_the_labels_scoring_each_prompt_whole_picks(mini_build: Path) -> None:
    """eval.variant's likelihood mode (shared prefix computed once) answers what label_nlls without it does,
    and reads each gold label's answer NLL off the label scores (a gold outside the labels is scored alone)."""
    from types import SimpleNamespace

    from adaptfile.runtime.model import LoadedModel
    from adaptfile.steps.eval_variant import _likeliest

    tokenizer, lm = _random_lm(mini_build, "qwen2")
    model = LoadedModel(lm, tokenizer, window=512)
    labels = [f"intent_{i}" for i in range(8)]
    instruction = "Classify the message. Intents: " + ", ".join(labels) + ". Reply with one intent."
    prompts = [tokenizer(f"{instruction}\n{m}")["input_ids"] for m in ("card lost", "pin blocked", "top up")]
    golds = ["intent_3", "intent_0", "not_a_label"]
    assert model.shared_prefix(prompts) is not None  # the instruction is long enough to be shared
    progress: list[int] = []
    answers = _likeliest(
        SimpleNamespace(model=model, name="icl"),
        prompts,
        labels,
        golds,
        SimpleNamespace(progress=lambda d, *_: progress.append(d)),
    )
    whole = [model.label_nlls(p, labels) for p in prompts]
    assert [a for a, _, _ in answers] == [labels[n.index(min(n))] for n in whole]
    assert progress == [1, 2, 3] and all(seconds > 0 for _, seconds, _ in answers)
    read_off = [nll for _, _, nll in answers]
    assert read_off[:2] == pytest.approx(
        [model.answer_nll(p, g)[0] for p, g in zip(prompts[:2], golds[:2], strict=True)], rel=1e-4
    )
    assert read_off[2] is None


def test_answer_nll_is_not_read_off_labels_when_the_prompt_was_cut(mini_build: Path) -> None:
    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build)
    model = LoadedModel(lm, tokenizer, window=64)
    labels = ["yes", "no"]
    prompt = tokenizer(" word" * 70)["input_ids"]  # longer than the window: each scorer cuts it its own way
    assert model.answer_nll_of_label(prompt, labels, model.label_nlls(prompt, labels), "yes") is None


def test_label_trie_shares_common_starts_and_keeps_each_labels_path() -> None:
    from adaptfile.runtime.model import LabelTrie

    targets = [[5, 6, 7, 2], [5, 6, 8, 2], [9, 2], [5, 2]]
    trie = LabelTrie(targets)
    assert trie.tokens == [5, 6, 7, 2, 8, 2, 9, 2, 2]
    assert [[trie.tokens[n] for n in path] for path in trie.paths] == targets
    assert all(trie.parents[path[0]] == -1 for path in trie.paths)
    assert all(trie.parents[b] == a for path in trie.paths for a, b in itertools.pairwise(path))
    assert trie.depths == [0, 1, 2, 3, 2, 3, 0, 1, 1]


def test_no_shared_prefix_for_short_or_disjoint_prompts(mini_build: Path) -> None:
    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build)
    model = LoadedModel(lm, tokenizer, window=256)
    assert (
        model.shared_prefix([tokenizer("Dim the lamp?")["input_ids"], tokenizer("Dim it?")["input_ids"]])
        is None
    )
    assert model.shared_prefix([]) is None


def test_default_variant_is_the_reports_best(mini_build: Path) -> None:
    best = json.loads((mini_build / "build/report/report.json").read_text())["best"]
    assert load_artifacts(mini_build).name == best


def test_unknown_variant_lists_the_known_ones(mini_build: Path) -> None:
    with pytest.raises(UsageError, match="no such variant") as err:
        load_artifacts(mini_build, "icl+magic")
    assert "icl+rag+lora" in (err.value.hint or "")


def test_no_build_says_run_adapt_build(tmp_path: Path) -> None:
    with pytest.raises(AdaptError) as err:
        Runtime.from_build(tmp_path)
    assert "adapt build" in (err.value.hint or "")


def test_from_upstream_sees_the_same_artifacts_as_the_manifest(mini_build: Path) -> None:
    from adaptfile.runtime.artifacts import from_upstream

    via_manifest = load_artifacts(mini_build, "icl+rag+lora")
    params = {
        "eval.variant": "icl+rag+lora",
        "eval.strategies": ["icl", "rag", "lora"],
        "model.base": "scratch",
        "model.revision": "main",
        "rag.top_k": 1,
        "eval.max_new_tokens": via_manifest.max_new_tokens,
    }  # the answer budget the plan derived from the data
    steps = [
        "eval.load",
        "pretrain.train",
        "prompt.render",
        "rag.index",
        "lora.train",
    ]  # no shots: fine-tuned
    upstream = {s: mini_build / "build" / s for s in steps}
    via_steps = from_upstream(params, upstream, mini_build)
    assert via_steps == via_manifest


def test_batched_answers_equal_the_answers_one_by_one(mini_build: Path) -> None:
    """eval.variant answers in left-padded batches: each row's answer is what it gets alone. A random
    model (the mini build's tokenizer) so the answers have tokens, of different lengths."""
    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build)
    model = LoadedModel(lm, tokenizer, window=256)
    prompts = [
        tokenizer(q)["input_ids"]
        for q in ("How long is the warranty?", "Dim?", "What if it flickers at night?")
    ]
    assert len({len(p) for p in prompts}) > 1  # the batch is padded
    golds = ["Two years.", "Yes", "Check the night mode schedule in the app, then restart it."]
    alone = [model.generate(p, 24) for p in prompts]
    together, nlls = model.generate_batch(prompts, 24, golds)
    assert all(g.tokens > 3 for g in alone)
    assert [(g.text, g.tokens, g.finish_reason) for g in together] == [
        (g.text, g.tokens, g.finish_reason) for g in alone
    ]
    # the golds scored in the batch's prefill: the loss each gets alone
    assert nlls == pytest.approx(
        [model.answer_nll(p, g)[0] for p, g in zip(prompts, golds, strict=True)], abs=1e-4
    )
    assert model.generate_batch(prompts, 24)[1] == [None, None, None]


def test_prefix_tuning_scores_golds_and_labels_without_sharing_its_cache(mini_build: Path) -> None:
    """Prefix tuning's virtual tokens sit in the cache: the batch's cache is not reused (the answers are
    those of a batch without golds), its gold NLLs are still each row's own, and labels are scored from a
    shared cache (its 2D mask would not take the one-pass block mask)."""
    from peft import PrefixTuningConfig, get_peft_model

    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build)
    peft = get_peft_model(lm, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    model = LoadedModel(peft.eval(), tokenizer, window=200)
    prompts = [tokenizer(q)["input_ids"] for q in ("How long is the warranty?", "Dim?")]
    golds = ["Two years.", "Yes"]
    plain, _ = model.generate_batch(prompts, 12)
    scored, nlls = model.generate_batch(prompts, 12, golds)
    assert [g.text for g in scored] == [g.text for g in plain]
    assert nlls == pytest.approx(
        [model.answer_nll(p, g)[0] for p, g in zip(prompts, golds, strict=True)], abs=1e-4
    )
    assert len(model.label_nlls(prompts[0], ["yes", "no"])) == 2


def test_a_gold_that_does_not_fit_beside_its_prompt_is_scored_alone(mini_build: Path) -> None:
    """A row whose prompt would be cut differently for scoring than for generating gets no batch score."""
    from adaptfile.runtime.model import LoadedModel

    tokenizer, lm = _random_lm(mini_build, max_position_embeddings=64)
    model = LoadedModel(lm, tokenizer, window=64)
    prompts = [tokenizer("Dim?")["input_ids"], tokenizer(" word" * 70)["input_ids"]]
    _, nlls = model.generate_batch(prompts, 8, ["Yes", "No"])
    assert nlls == [None, None]


def _random_lm(mini_build: Path, family: str = "llama", **config: Any) -> tuple[Any, Any]:
    """The mini build's tokenizer and a tiny random-initialised model of `family` over it (seed 0), in eval
    mode: answers with tokens, of different lengths, in seconds."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = Runtime.from_build(mini_build, "icl+rag").model.tokenizer
    torch.manual_seed(0)
    shape = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 256} | config  # fmt: skip
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(family, vocab_size=len(tokenizer), **shape))
    return tokenizer, model.eval()
