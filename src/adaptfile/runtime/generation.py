"""What one generation asks for (sampling, stop strings) and gives back; how its growing text is cut.

A streamed answer and a whole one go through the same cut, so the streamed pieces always join
up to exactly the whole answer: the answer is the decoded continuation, cut before the first
stop string and stripped; while it grows, only the part that no later token can change is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GREEDY_BELOW = 1e-5  # temperatures under this are greedy decoding (dividing logits by them overflows)


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: temperature 0 (the default) is greedy decoding, where top_p and
    seed do not matter; above 0, tokens are drawn from the top_p nucleus with a generator seeded by
    `seed` (a fresh random seed when None)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()  # the answer ends before the first of these

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


@dataclass(frozen=True)
class Generation:
    """One continuation: its text, the tokens generated (EOS not counted), and why it ended."""

    text: str
    tokens: int
    finish_reason: str  # "stop": EOS or a stop string; "length": the token limit


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where the earliest stop string begins in `text`, or None."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def final_text(decoded: str, stops: Sequence[str]) -> str:
    """The answer: the decoded continuation cut before the first stop string, stripped."""
    cut = first_stop(decoded, stops)
    return (decoded if cut is None else decoded[:cut]).strip()


def settled_text(decoded: str, stops: Sequence[str]) -> str:
    """The part of a still-growing continuation that is certain to begin the final answer.

    Text up to the last whitespace is stable: the next token may still join the last word,
    complete a character's bytes, or (tokenizer clean-up) pull punctuation onto it. A stop string
    not yet found can only appear ending past that point, so text where one could begin is held
    back too. What remains is a prefix of `final_text` of every longer continuation.
    """
    if first_stop(decoded, stops) is not None:
        return final_text(decoded, stops)
    stable = max((i for i, c in enumerate(decoded) if c.isspace()), default=0)
    end = stable
    for stop in filter(None, stops):
        for start in range(max(0, stable - len(stop) + 1), stable):
            if stop.startswith(decoded[start:stable]):
                end = min(end, start)
                break
    return decoded[:end].strip()
