"""Messages → the model's prompt text (its chat template, or the plain format) and training text.

A prompt is a list of chat messages: the instruction as the system message, each demonstration
(shot) as a user message (the task template rendered for the shot's input, with no shots and no
context) followed by an assistant message (the shot's output), a conversation's earlier turns, and
last the user message: the template rendered for the question with the retrieved context.
Demonstrations as turns are how chat models are trained to follow examples (a 135M instruct model
answers the question instead of labelling it when the shots are lines inside one user message).

With a chat template the messages go through ``apply_chat_template``. The plain format, used when
the tokenizer has no ``chat_template`` (or there is no tokenizer), writes the same messages, each as
a role header, its content and a blank line, then opens the assistant's turn::

    ### System:
    {instruction}

    ### User:
    {template rendered for shot 1}

    ### Assistant:
    {output of shot 1}

    ### User:
    {template rendered for the question}

    ### Assistant:

Role headers are ``### System:``, ``### User:`` and ``### Assistant:``; a conversation's earlier
turns are blocks of their own too. The prompt ends with ``### Assistant:`` and one newline; the
model writes the answer after it and then its end-of-sequence token (``tokenizer.eos_token``;
``</s>`` when there is no tokenizer). Training text is exactly the serving prompt followed by the
target and the EOS token, so a model is trained on the format it is served with and learns where
to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adaptfile.prompt.template import Passage, PromptTemplate, Shot, TemplateError, template_variables

PLAIN_EOS = "</s>"  # end of sequence when there is no tokenizer (the plain format's stop marker)

Messages = list[dict[str, str]]


def render_messages(
    template: PromptTemplate,
    *,
    instruction: str,
    shots: Sequence[Shot],
    context: Sequence[Passage],
    question: str,
    history: Sequence[dict[str, str]] = (),
) -> Messages:
    """[system: instruction, (user: shot input, assistant: shot output) per shot, *history, user: the
    question with its context]; no system message when the instruction is empty. Templates are
    rendered with `shots` empty: demonstrations are turns. `history` holds a conversation's earlier
    user and assistant turns."""
    messages: Messages = []
    if instruction.strip():
        messages.append({"role": "system", "content": instruction.strip()})
    for shot in shots:
        messages.append({"role": "user", "content": _user(template, instruction, (), shot.input)})
        messages.append({"role": "assistant", "content": shot.output})
    messages.extend({"role": m["role"], "content": m["content"]} for m in history)
    messages.append({"role": "user", "content": _user(template, instruction, context, question)})
    return messages


def _user(template: PromptTemplate, instruction: str, context: Sequence[Passage], question: str) -> str:
    return template.render(**template_variables(instruction, (), context, question)).strip("\n")


def has_chat_template(tokenizer: Any | None) -> bool:
    """Whether prompts for this tokenizer go through `apply_chat_template`."""
    return tokenizer is not None and bool(getattr(tokenizer, "chat_template", None))


def format_prompt(messages: Messages, tokenizer: Any | None) -> str:
    """The exact text the model receives: the tokenizer's chat template with the generation prompt, or plain."""
    if not has_chat_template(tokenizer):
        return plain_prompt(messages)
    try:
        return _apply(tokenizer, messages)
    except Exception as err:  # chat templates raise for roles they do not support (e.g. no system role)
        if messages and messages[0]["role"] == "system" and len(messages) > 1:
            try:
                return _apply(tokenizer, _fold_system(messages))
            except Exception:
                pass
        raise TemplateError(
            f"the tokenizer's chat_template failed on the prompt messages: {err}",
            hint="fix or remove the tokenizer's chat_template, or leave project.instruction empty",
        ) from None


def training_text(messages: Messages, target: str, tokenizer: Any | None) -> tuple[str, str]:
    """(prompt_text, completion_text): the serving prompt, and the target followed by the EOS token."""
    return format_prompt(messages, tokenizer), target + eos_token(tokenizer)


def eos_token(tokenizer: Any | None) -> str:
    """The token that ends an answer; the plain format's `</s>` without a tokenizer."""
    if tokenizer is None:
        return PLAIN_EOS
    eos = getattr(tokenizer, "eos_token", None)
    if not eos:
        raise TemplateError(
            "the tokenizer has no eos_token: a model trained without one never learns to stop",
            hint="set eos_token in the tokenizer's tokenizer_config.json (e.g. </s> or <|endoftext|>)",
        )
    return str(eos)


def plain_prompt(messages: Messages) -> str:
    """The documented plain format (see the module docstring): one block per message."""
    parts = [f"### {m['role'].capitalize()}:\n{m['content']}\n\n" for m in messages]
    return "".join(parts) + "### Assistant:\n"


def _apply(tokenizer: Any, messages: Messages) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise TypeError(f"apply_chat_template returned {type(text).__name__}, expected text")
    return text


def _fold_system(messages: Messages) -> Messages:
    """Templates without a system role: the instruction opens the first user message instead."""
    system, first, *rest = messages
    merged = {"role": first["role"], "content": f"{system['content']}\n\n{first['content']}"}
    return [merged, *rest]
