"""A conversation (system text, earlier turns) rendered into the serving prompt: plain blocks and chat template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adaptfile.prompt import Shot, format_prompt, render_messages
from adaptfile.prompt.assemble import PromptBuild
from adaptfile.prompt.shipped import shipped_template
from adaptfile.prompt.template import compile_template

HISTORY = [
    {"role": "user", "content": "Where is the reset button?"},
    {"role": "assistant", "content": "On the back."},
]


def build(limit: int = 4000, shots: int = 1, tokenizer: Any = None) -> PromptBuild:
    path = shipped_template("qa")
    template = compile_template(path.read_text(encoding="utf-8"), "shipped:qa.j2", Path(path))
    fixed = [Shot(f"question {i}?", f"answer {i}") for i in range(shots)]
    settings = {"schema": 1, "template": "shipped:qa.j2", "shots": shots, "limit": limit}
    return PromptBuild(template, "Answer briefly.", fixed, [], settings, tokenizer)


def test_plain_format_writes_shots_then_earlier_turns_as_blocks() -> None:
    prompt = build().assemble("How long do I hold it?", history=HISTORY).prompt
    assert prompt == (
        "### System:\nAnswer briefly.\n\n"
        "### User:\nQuestion: question 0?\nAnswer:\n\n"
        "### Assistant:\nanswer 0\n\n"
        "### User:\nWhere is the reset button?\n\n"
        "### Assistant:\nOn the back.\n\n"
        "### User:\nQuestion: How long do I hold it?\nAnswer:\n\n"
        "### Assistant:\n"
    )


def test_chat_template_gets_earlier_turns_as_messages(chat_tokenizer: Any) -> None:
    assembled = build(shots=0, tokenizer=chat_tokenizer).assemble("How long do I hold it?", history=HISTORY)
    assert [m["role"] for m in assembled.messages] == ["system", "user", "assistant", "user"]
    assert assembled.prompt == (
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n"
        "<|im_start|>user\nWhere is the reset button?<|im_end|>\n"
        "<|im_start|>assistant\nOn the back.<|im_end|>\n"
        "<|im_start|>user\nQuestion: How long do I hold it?\nAnswer:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_template_without_system_role_gets_the_instruction_in_the_first_turn(
    no_system_tokenizer: Any,
) -> None:
    prompt = build(shots=0, tokenizer=no_system_tokenizer).assemble("Q?", history=HISTORY).prompt
    assert prompt.startswith(
        "[user] Answer briefly.\n\nWhere is the reset button?\n[assistant] On the back.\n"
    )


def test_client_system_text_follows_the_instruction() -> None:
    assembled = build().assemble("Q?", system="  Reply in French.  ")
    assert assembled.messages[0] == {"role": "system", "content": "Answer briefly.\n\nReply in French."}


def test_without_a_conversation_the_prompt_is_the_single_turn_one() -> None:
    """No history and no system text: byte for byte what training renders for the question."""
    messages = render_messages(
        build().template,
        instruction="Answer briefly.",
        shots=[Shot("question 0?", "answer 0")],
        context=[],
        question="Q?",
    )
    assert build().assemble("Q?", history=[], system=" ").prompt == format_prompt(messages, None)


def test_earlier_turns_count_against_the_budget_and_shots_give_way_first() -> None:
    alone = build(shots=2).assemble("Q?")
    long_history = [{"role": "user", "content": "tell me more " * 30}, {"role": "assistant", "content": "ok"}]
    talked = build(shots=2, limit=alone.tokens.total + 60).assemble("Q?", history=long_history)
    assert len(alone.shots) == 2 and talked.shots == []
    assert talked.tokens.total > alone.tokens.total
