"""Messages → prompt text (chat template or plain) and the train/serve format equality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adaptfile.prompt import (
    PLAIN_EOS,
    Shot,
    TemplateError,
    format_prompt,
    load_template,
    render_messages,
    training_text,
)
from adaptfile.prompt.assemble import PromptBuild
from adaptfile.prompt.chat import plain_prompt


def _messages(tmp_path: Path, instruction: str = "Answer briefly.") -> list[dict[str, str]]:
    template = load_template(tmp_path, "qa", None)
    return render_messages(
        template,
        instruction=instruction,
        shots=[Shot("Capital of France?", "Paris")],
        context=[],
        question="2+2?",
    )


def test_render_messages_shape(tmp_path: Path) -> None:
    messages = _messages(tmp_path)
    assert messages == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Question: Capital of France?\nAnswer:"},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": "Question: 2+2?\nAnswer:"},
    ]
    assert [m["role"] for m in _messages(tmp_path, instruction="")] == ["user", "assistant", "user"]


def test_plain_format_is_the_documented_one(tmp_path: Path) -> None:
    prompt = format_prompt(_messages(tmp_path), None)
    assert prompt == (
        "### System:\nAnswer briefly.\n\n"
        "### User:\nQuestion: Capital of France?\nAnswer:\n\n"
        "### Assistant:\nParis\n\n"
        "### User:\nQuestion: 2+2?\nAnswer:\n\n"
        "### Assistant:\n"
    )


def test_plain_tokenizer_uses_plain_format(tmp_path: Path, plain_tokenizer: Any) -> None:
    messages = _messages(tmp_path)
    assert format_prompt(messages, plain_tokenizer) == plain_prompt(messages)


def test_chat_template_goes_through_apply_chat_template(tmp_path: Path, chat_tokenizer: Any) -> None:
    prompt = format_prompt(_messages(tmp_path), chat_tokenizer)
    assert prompt == (
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n"
        "<|im_start|>user\nQuestion: Capital of France?\nAnswer:<|im_end|>\n"
        "<|im_start|>assistant\nParis<|im_end|>\n"
        "<|im_start|>user\nQuestion: 2+2?\nAnswer:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_template_without_system_role_gets_the_instruction_in_the_user_turn(
    tmp_path: Path, no_system_tokenizer: Any
) -> None:
    prompt = format_prompt(_messages(tmp_path), no_system_tokenizer)
    assert prompt.startswith("[user] Answer briefly.\n\nQuestion:") and prompt.endswith("[assistant] ")


@pytest.mark.parametrize("kind", ["none", "plain", "chat"])
def test_training_text_equals_serving_prompt_plus_target_plus_eos(
    tmp_path: Path, kind: str, plain_tokenizer: Any, chat_tokenizer: Any
) -> None:
    tokenizer = {"none": None, "plain": plain_tokenizer, "chat": chat_tokenizer}[kind]
    messages = _messages(tmp_path)
    prompt, completion = training_text(messages, "4", tokenizer)
    assert prompt == format_prompt(messages, tokenizer)
    assert completion == "4" + (PLAIN_EOS if tokenizer is None else "</s>")
    if tokenizer is not None:  # the serving prompt's tokens are a prefix of the training sequence's tokens
        ids = tokenizer.encode(prompt, add_special_tokens=False)
        full = ids + tokenizer.encode(completion, add_special_tokens=False)
        assert full[: len(ids)] == ids and full[-1] == tokenizer.eos_token_id


def test_serving_path_renders_the_same_prompt_as_training(tmp_path: Path, chat_tokenizer: Any) -> None:
    """prompt.render's files, loaded the way `adapt ask` and the runtime do, give the training prompt."""
    build = tmp_path / "build"
    build.mkdir()
    template = load_template(tmp_path, "qa", None)
    (build / "template.j2").write_text(template.source, encoding="utf-8")
    (build / "system.txt").write_text("Answer briefly.\n", encoding="utf-8")
    (build / "shots.jsonl").write_text('{"input": "Capital of France?", "output": "Paris", "label": null}\n')
    (build / "spares.jsonl").write_text("")
    (build / "prompt.json").write_text(
        '{"schema": 1, "template": "shipped:qa.j2", "shots": 1, "limit": 4096}'
    )
    served = PromptBuild.load(build, chat_tokenizer).assemble("2+2?")
    prompt, completion = training_text(_messages(tmp_path), "4", chat_tokenizer)
    assert served.prompt == prompt
    assert served.prompt + completion == prompt + "4</s>"


def test_tokenizer_without_eos_is_an_error(tmp_path: Path, make_tokenizer: Any) -> None:
    tokenizer = make_tokenizer()
    tokenizer.eos_token = None
    with pytest.raises(TemplateError, match="no eos_token"):
        training_text(_messages(tmp_path), "4", tokenizer)
