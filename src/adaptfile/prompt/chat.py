"""Messages → the model's prompt text (its chat template, or the plain format) and training text.

The plain format, used when the tokenizer has no ``chat_template`` (or there is no tokenizer), writes
each message as a role header, its content and a blank line, then opens the assistant's turn::

    ### System:
    {instruction}

    ### User:
    {rendered template}

    ### Assistant:

Role headers are ``### System:``, ``### User:`` and ``### Assistant:``. The prompt ends with
``### Assistant:`` and one newline; the model writes the answer after it and then its
end-of-sequence token (``tokenizer.eos_token``; ``</s>`` when there is no tokenizer). Training
text is exactly the serving prompt followed by the target and the EOS token, so a model is
trained on the format it is served with and learns where to stop.

A conversation's earlier turns (``adapt serve`` with several messages) keep the single-turn shape
the model was trained on: they are folded into the user block, before the rendered template::

    ### User:
    Earlier in this conversation:
    User: {earlier user message}
    Assistant: {earlier answer}

    {rendered template}

With a chat template, earlier turns are messages of their own between the system message and the
last user message, as the template renders any conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adaptfile.prompt.template import Passage, PromptTemplate, Shot, TemplateError, template_variables

PLAIN_EOS = "</s>"  # end of sequence when there is no tokenizer (the plain format's stop marker)
PLAIN_HISTORY = "Earlier in this conversation:\n"  # heads the earlier turns folded into the user block

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
    """[system: instruction, *history, user: the rendered template]; no system message when the
    instruction is empty. `history` holds a conversation's earlier user and assistant turns."""
    user = template.render(**template_variables(instruction, shots, context, question))
    messages: Messages = []
    if instruction.strip():
        messages.append({"role": "system", "content": instruction.strip()})
    messages.extend({"role": m["role"], "content": m["content"]} for m in history)
    messages.append({"role": "user", "content": user.strip("\n")})
    return messages


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
    """The documented plain format (see the module docstring): system blocks, then one user block
    that holds the earlier turns, folded, before the last message."""
    *earlier, last = messages
    blocks = [m for m in earlier if m["role"] == "system"]
    turns = [m for m in earlier if m["role"] != "system"]
    content = last["content"]
    if turns:
        folded = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in turns)
        content = f"{PLAIN_HISTORY}{folded}\n{content}"
    blocks.append({"role": last["role"], "content": content})
    parts = [f"### {m['role'].capitalize()}:\n{m['content']}\n\n" for m in blocks]
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
