"""A built prompt (build/prompt.render/): load it and assemble the exact prompt for one question."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adaptfile.errors import ConfigError
from adaptfile.profile.text import normal_text
from adaptfile.prompt.budget import PromptTokens, fit_shots
from adaptfile.prompt.chat import Messages, format_prompt, render_messages
from adaptfile.prompt.template import Passage, PromptTemplate, Shot, compile_template

PROMPT_SCHEMA = 1
MAX_SHORTENINGS = 4  # tries at trimming the last passage
MIN_PASSAGE_CHARS = 160  # the best passage is never cut below this: a RAG prompt keeps some evidence


def _shortened(passage: Passage, overflow: int, context_tokens: int) -> Passage:
    """The passage cut at its end by about `overflow` tokens (its span shrinks to match)."""
    keep = int(len(passage.text) * (1 - (overflow + 8) / max(context_tokens, 1)))
    keep = max(keep, min(len(passage.text), MIN_PASSAGE_CHARS))
    return replace(passage, text=passage.text[:keep], end=passage.start + keep)


@dataclass(frozen=True)
class AssembledPrompt:
    """One request's prompt: its messages, the text the model receives, the shots used and token counts."""

    question: str
    prompt: str
    messages: Messages
    shots: list[Shot]
    context: list[Passage]
    tokens: PromptTokens

    def to_json(self) -> dict[str, Any]:
        """The shape `adapt ask --prompt-only --json` prints."""
        tokens = self.tokens.to_json()
        return {
            "question": self.question,
            "prompt": self.prompt,
            "messages": self.messages,
            "shots": [shot_json(s) for s in self.shots],
            "tokens": {k: tokens[k] for k in ("instruction", "shots", "context", "question", "total")},
        }


def shot_json(shot: Shot) -> dict[str, Any]:
    return {"input": shot.input, "output": shot.output, "label": shot.label}


def write_shots(path: Path, shots: Sequence[Shot]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for shot in shots:
            handle.write(json.dumps(shot_json(shot), sort_keys=True, ensure_ascii=False) + "\n")


def read_shots(path: Path) -> list[Shot]:
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [Shot(r["input"], r["output"], r.get("label")) for r in rows]


@dataclass
class PromptBuild:
    """What prompt.render wrote, plus the tokenizer and (for "similar") the example index to pick shots."""

    template: PromptTemplate
    instruction: str
    shots: list[Shot]  # fixed shots, most useful first ("first", "diverse")
    spares: list[Shot]  # replacements for a fixed shot that equals the question
    settings: dict[str, Any]  # prompt.json
    tokenizer: Any | None = None
    index_dir: Path | None = None  # icl.shots index/, for "similar"
    _index: Any = field(default=None, repr=False)

    @classmethod
    def load(
        cls, directory: Path, tokenizer: Any | None = None, index_dir: Path | None = None
    ) -> PromptBuild:
        """Read build/prompt.render/ (and the icl.shots index/ when shots are chosen per question)."""
        try:
            settings = json.loads((directory / "prompt.json").read_text(encoding="utf-8"))
            source = (directory / "template.j2").read_text(encoding="utf-8")
            instruction = (directory / "system.txt").read_text(encoding="utf-8").rstrip("\n")
            shots = read_shots(directory / "shots.jsonl")
            spares = read_shots(directory / "spares.jsonl")
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(
                f"{directory}: the built prompt is missing or unreadable ({err})",
                hint="run `adapt build prompt.render`",
            ) from None
        if settings.get("schema") != PROMPT_SCHEMA:
            raise ConfigError(
                f"{directory}/prompt.json: unknown schema", hint="run `adapt build prompt.render`"
            )
        template = compile_template(source, settings["template"], directory / "template.j2")
        return cls(template, instruction, shots, spares, settings, tokenizer, index_dir)

    @classmethod
    def for_training(cls, root: Path, params: dict[str, Any], tokenizer: Any | None) -> PromptBuild:
        """What prompt.render writes for these params, without demonstrations: the prompt a fine-tuned
        variant is trained and served with (it serves with no shots; docs/strategies/lora.md)."""
        from adaptfile.prompt.budget import serving_limit
        from adaptfile.prompt.template import load_template

        template = load_template(root, params.get("project.task", "qa"), params.get("icl.template"))
        instruction = (params.get("project.instruction") or "").strip()
        limit = serving_limit(params, tokenizer)[2]
        return cls(
            template, instruction, [], [], {"schema": PROMPT_SCHEMA, "shots": 0, "limit": limit}, tokenizer
        )

    @property
    def per_query(self) -> bool:
        return bool(self.settings.get("per_query"))

    def shots_for(self, question: str) -> list[Shot]:
        """The shots for this question: nearest first ("similar"), else the fixed ones; never the question itself."""
        k = int(self.settings.get("shots", 0))
        if k <= 0:
            return []
        if self.per_query:
            return [Shot(r.input, r.output, r.label) for r in self._example_index().similar(question, k)]
        own = normal_text(question)
        fixed = [s for s in self.shots if normal_text(s.input) != own]
        spares = [s for s in self.spares if normal_text(s.input) != own]
        return (fixed + spares)[: len(self.shots)]

    def assemble(
        self,
        question: str,
        context: Sequence[Passage] = (),
        *,
        history: Sequence[dict[str, str]] = (),
        system: str = "",
    ) -> AssembledPrompt:
        """The exact prompt for `question`, fitted to the budget in the model's own tokens.

        Shots go first (least useful first), then retrieved passages (least relevant first), and a
        last passage is shortened, down to a floor: a RAG prompt always keeps some evidence.
        A conversation's earlier turns (`history`) are kept whole, and a client's `system` text
        follows the project's instruction after a blank line.
        """
        instruction = self.instruction  # as training rendered it, byte for byte, when no system text comes
        if system.strip():
            instruction = "\n\n".join(part for part in (self.instruction.strip(), system.strip()) if part)
        limit = int(self.settings.get("limit", 1 << 30))
        candidates, passages = self.shots_for(question), list(context)
        for _ in range(len(passages) + MAX_SHORTENINGS):
            shots, tokens = fit_shots(
                self.template,
                instruction=instruction,
                shots=candidates,
                question=question,
                tokenizer=self.tokenizer,
                limit=limit,
                context=passages,
                history=history,
            )
            if tokens.total <= limit or not passages:
                break
            if len(passages) > 1:
                passages.pop()
                continue
            shorter = _shortened(passages[0], tokens.total - limit, tokens.context)
            if shorter == passages[0]:
                break  # at the floor: the prompt stays over budget and the runtime keeps its tail
            passages = [shorter]
        context = passages
        messages = render_messages(
            self.template,
            instruction=instruction,
            shots=shots,
            context=context,
            question=question,
            history=history,
        )
        return AssembledPrompt(
            question, format_prompt(messages, self.tokenizer), messages, shots, list(context), tokens
        )

    def _example_index(self) -> Any:
        if self._index is None:
            from adaptfile.icl.index import ExampleIndex

            if self.index_dir is None:
                raise ConfigError("shots are chosen per question but no example index was built",
                                  hint="run `adapt build icl.shots`")  # fmt: skip
            self._index = ExampleIndex.load(self.index_dir)
        return self._index
