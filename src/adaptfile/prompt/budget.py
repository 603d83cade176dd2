"""Token counts per prompt part with the model's tokenizer (or an estimate), and fitting shots to the budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adaptfile.config.model import ModelConfig
from adaptfile.errors import ConfigError
from adaptfile.profile.text import estimate_tokens
from adaptfile.prompt.chat import format_prompt, render_messages
from adaptfile.prompt.template import Passage, PromptTemplate, Shot


@dataclass(frozen=True)
class PromptTokens:
    """Tokens of each part of one prompt; `total` includes the chat/plain wrapper, the context and the special
    tokens the tokenizer adds: the ids the model receives, the count `adapt ask` and eval report."""

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


def prompt_ids(prompt: str, tokenizer: Any) -> list[int]:
    """The ids a model receives for a whole formatted prompt: special tokens added (a BOS where the tokenizer
    adds one), as training, `adapt ask` and eval tokenize prompts."""
    return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])


def prompt_tokens(prompt: str, tokenizer: Any | None) -> int:
    """How many ids the model receives for `prompt` (see prompt_ids); ≈ 4 characters per token without one."""
    return estimate_tokens(prompt) if tokenizer is None else len(prompt_ids(prompt, tokenizer))


def load_tokenizer(
    location: str, root: Path, revision: str | None = None, trust_remote_code: bool = False
) -> Any:
    """The model's real tokenizer and chat template: a local directory (relative to `root`), or a hub id at
    its pinned commit (from the cache, or downloaded where the environment allows). A ConfigError naming
    the model when it cannot be loaded: in a build, only `adapt plan` may estimate token counts."""
    local = Path(location) if Path(location).is_absolute() else root / location
    target = str(local) if local.is_dir() else location
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(target, revision=revision, trust_remote_code=trust_remote_code)
    except Exception as err:  # OSError, ValueError, hub errors: all mean "no tokenizer here"
        fetch = (
            f"run `hf download {location} --revision {revision}` where the hub is reachable, or "
            if (revision and not local.is_dir())
            else ""
        )
        raise ConfigError(
            f"model.base = {location!r}: cannot load its tokenizer ({str(err).splitlines()[0]})",
            hint=f"{fetch}point model.base at a model directory with tokenizer files (tokenizer.json, "
            "tokenizer_config.json)",
        ) from None


def base_tokenizer(model: ModelConfig, root: Path, revision: str | None) -> Any:
    """The tokenizer of [model] base at `revision` (the commit adapt.lock pins)."""
    return load_tokenizer(model.base, root, revision, model.trust_remote_code)


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
        return prompt_tokens(format_prompt(messages, tokenizer), tokenizer)

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


def serving_limit(params: dict[str, Any], tokenizer: Any | None) -> tuple[int | None, int, int]:
    """(context window, answer tokens, prompt budget) for a step's params: prompt.render writes these
    into prompt.json and a training step fits its prompts to the same budget."""
    from adaptfile.plan.prompting import answer_budget

    size = getattr(tokenizer, "model_max_length", None)
    window = params.get("model.context") or (
        size if isinstance(size, int) and 0 < size < 10_000_000 else None
    )
    answer = params.get("prompt.answer_tokens") or answer_budget(params.get("project.task", "qa"), window)
    limit = prompt_limit(int(params.get("constraints.max_prompt_tokens") or 4096), window, answer)
    return window, answer, limit
