"""Hooks into transformers' generate(): a seeded sampler, and stop strings and streaming on the decoded text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, StoppingCriteria, TemperatureLogitsWarper, TopPLogitsWarper

from adaptfile.runtime.generation import first_stop, settled_text


class SeededSampler(LogitsProcessor):
    """Draws the next token from the temperature- and top_p-warped distribution with its own
    torch.Generator, and leaves only that token possible (generate() then runs greedily).

    Hand-written because generate(do_sample=True) draws from torch's global generator only: a
    request's seed would mean reseeding the whole process, and concurrent requests would share it.
    """

    def __init__(self, temperature: float, top_p: float, generator: torch.Generator) -> None:
        self.warpers = [TemperatureLogitsWarper(float(temperature))]
        if top_p < 1:
            self.warpers.append(TopPLogitsWarper(top_p))
        self.generator = generator

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        probs = torch.softmax(scores.float(), dim=-1)
        chosen = torch.multinomial(probs, num_samples=1, generator=self.generator)
        only = torch.full_like(scores, float("-inf"))
        return only.scatter(1, chosen, 0.0)


class AnswerNgramBan(LogitsProcessor):
    """Forbids a token that would repeat an n-gram the answer already contains, looking at the
    generated tokens only: greedy decoding of small models loops on a phrase otherwise.

    Hand-written because generate(no_repeat_ngram_size=...) counts the prompt's n-grams too, so the
    model could never copy a label from a demonstration or a phrase from a retrieved passage.
    """

    def __init__(self, size: int, prompt_length: int) -> None:
        self.size = size
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, ids in enumerate(input_ids[:, self.prompt_length :].tolist()):
            if len(ids) < self.size:
                continue
            prefix = tuple(ids[len(ids) - self.size + 1 :])
            banned = {
                ids[i + self.size - 1]
                for i in range(len(ids) - self.size + 1)
                if tuple(ids[i : i + self.size - 1]) == prefix
            }
            if banned:
                scores[row, list(banned)] = float("-inf")
        return scores


class TextProgress(StoppingCriteria):
    """Decodes the continuation after each token: ends generation at a stop string, and hands the
    newly settled text to `on_text` (which returns False when nobody listens any more).

    Hand-written rather than generate(stop_strings=..., streamer=...): those match stop strings on
    tokens and stream their own cut of the text, while the answer is cut on the decoded text; one
    decode here serves the stop check and the stream, so both agree with the final answer.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompt_length: int,
        eos: int | None,
        stops: Sequence[str],
        on_text: Callable[[str], bool] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.eos = eos
        self.stops = tuple(stops)
        self.on_text = on_text
        self.shown = ""

    def decoded(self, new: list[int]) -> str:
        """The text of generated token ids, up to EOS."""
        if self.eos is not None and self.eos in new:
            new = new[: new.index(self.eos)]
        return str(self.tokenizer.decode(new, skip_special_tokens=True))

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        text = self.decoded(input_ids[0, self.prompt_length :].tolist())
        listening = self.show(settled_text(text, self.stops))
        done = not listening or first_stop(text, self.stops) is not None
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    def show(self, settled: str) -> bool:
        """Pass on what `settled` adds to the text shown so far; whether to go on."""
        if self.on_text is None or settled == self.shown or not settled.startswith(self.shown):
            return True
        delta, self.shown = settled[len(self.shown) :], settled
        return self.on_text(delta) is not False
