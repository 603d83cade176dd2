"""Token counts per prompt part with the model's tokenizer (or an estimate), and fitting shots to the budget."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adaptfile.profile.text import estimate_tokens
from adaptfile.prompt.chat import format_prompt, render_messages
from adaptfile.prompt.template import Passage, PromptTemplate, Shot


@dataclass(frozen=True)
class PromptTokens:
    """Tokens of each part of one prompt; `total` includes the chat/plain wrapper and the context."""

    instruction: int
    shots: int
    context: int
    question: int
    total: int

    def to_json(self) -> dict[str, int]:
        return asdict(self)


def count_tokens(text: str, tokenizer: Any | None) -> int:
    """Tokens of `text` for the model (no special tokens added), or ≈ 4 characters per token without one."""
    if tokenizer is None:
        return estimate_tokens(text)
    return len(tokenizer.encode(text, add_special_tokens=False))


def load_tokenizer(base: str, root: Path, revision: str = "main") -> Any | None:
    """The base model's tokenizer from a local directory or the local hub cache; None when unavailable
    (nothing is ever downloaded: token counts then fall back to the estimate)."""
    if not base or base == "scratch":
        return None
    local = root / base
    target = str(local) if local.is_dir() else base
    if not local.is_dir() and Path(base).is_absolute():
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(target, revision=revision, local_files_only=True)
    except Exception:  # not cached, no tokenizer files, or no transformers: estimate instead
        return None


def measure(
    template: PromptTemplate,
    *,
    instruction: str,
    shots: Sequence[Shot],
    question: str,
    tokenizer: Any | None,
    context: Sequence[Passage] = (),
    context_budget: int = 0,
    history: Sequence[dict[str, str]] = (),
) -> PromptTokens:
    """Token counts of the prompt; `context_budget` reserves room for retrieval when `context` is not known yet.
    A conversation's earlier turns (`history`) count in `total` only."""

    def total(with_shots: Sequence[Shot], with_context: Sequence[Passage]) -> int:
        messages = render_messages(
            template,
            instruction=instruction,
            shots=with_shots,
            context=with_context,
            question=question,
            history=history,
        )
        return count_tokens(format_prompt(messages, tokenizer), tokenizer)

    full = total(shots, context)
    shot_tokens = full - total((), context) if shots else 0
    context_tokens = full - total(shots, ()) if context else context_budget
    return PromptTokens(
        instruction=count_tokens(instruction, tokenizer) if instruction.strip() else 0,
        shots=shot_tokens,
        context=context_tokens,
        question=count_tokens(question, tokenizer),
        total=full + (0 if context else context_budget),
    )


def fit_shots(
    template: PromptTemplate,
    *,
    instruction: str,
    shots: Sequence[Shot],
    question: str,
    tokenizer: Any | None,
    limit: int,
    context: Sequence[Passage] = (),
    context_budget: int = 0,
    history: Sequence[dict[str, str]] = (),
) -> tuple[list[Shot], PromptTokens]:
    """Drop shots from the end (the least useful) until the prompt fits `limit` tokens; may return none."""
    kept = list(shots)
    while True:
        tokens = measure(
            template,
            instruction=instruction,
            shots=kept,
            question=question,
            tokenizer=tokenizer,
            context=context,
            context_budget=context_budget,
            history=history,
        )
        if tokens.total <= limit or not kept:
            return kept, tokens
        kept.pop()


def prompt_limit(max_prompt_tokens: int, context_window: int | None, answer_tokens: int) -> int:
    """The prompt budget: `constraints.max_prompt_tokens`, and room for the answer in the context window."""
    if context_window is None:
        return max_prompt_tokens
    return min(max_prompt_tokens, context_window - answer_tokens)
