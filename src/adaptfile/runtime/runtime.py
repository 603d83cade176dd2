"""Runtime: one built variant (model + adapter, retriever, prompt and shots) answering questions."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.runtime.artifacts import VariantArtifacts, from_upstream, load_artifacts
from adaptfile.runtime.generation import Generation, Sampling

DEFAULT_MAX_NEW_TOKENS = 64


@dataclass(frozen=True)
class Citation:
    """A retrieved passage the prompt used: `path:start-end` (character offsets into the source)."""

    path: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    """One answer: the text, the passages it was given, prompt size and wall time."""

    text: str
    citations: list[Citation]
    prompt_tokens: int
    latency_ms: float
    completion_tokens: int = 0


@dataclass(frozen=True)
class Prepared:
    """The exact prompt for one question: text, token ids and the passages retrieved for it."""

    prompt: str
    ids: list[int]
    citations: list[Citation]
    passages: list[Any] = field(default_factory=list)


class Runtime:
    """Loads lazily and once; `answer` and `answer_nll` are safe to call from several threads."""

    def __init__(self, artifacts: VariantArtifacts, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> None:
        self.artifacts = artifacts
        self.max_new_tokens = max_new_tokens
        self._lock = threading.RLock()
        self._model: Any = None
        self._prompt: Any = None
        self._retriever: Any = None
        self._tokenizer: Any = None

    @classmethod
    def from_build(cls, root: Path, variant: str | None = None, max_new_tokens: int | None = None) -> Runtime:
        """The variant (default: the report's best) of the build under `root` (build/manifest.json)."""
        artifacts = load_artifacts(root, variant)
        return cls(artifacts, max_new_tokens or artifacts.max_new_tokens or _answer_tokens(artifacts.prompt))

    @classmethod
    def from_upstream(cls, params: dict[str, Any], upstream: dict[str, Path], root: Path) -> Runtime:
        """The variant an eval step sees through its upstream step directories."""
        artifacts = from_upstream(params, upstream, root)
        return cls(artifacts, int(params.get("eval.max_new_tokens") or DEFAULT_MAX_NEW_TOKENS))

    @property
    def name(self) -> str:
        return self.artifacts.name

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from adaptfile.runtime.model import LoadedModel

                self._model = LoadedModel.load(self.artifacts)
            return self._model

    @property
    def tokenizer(self) -> Any:
        """The variant's tokenizer: the loaded model's, else loaded alone (`adapt ask --prompt-only`)."""
        with self._lock:
            if self._model is not None:
                return self._model.tokenizer
            if self._tokenizer is None:
                from adaptfile.train.models import load_tokenizer

                a = self.artifacts
                self._tokenizer = load_tokenizer(a.model, a.revision, a.trust_remote_code)
            return self._tokenizer

    @property
    def prompt_build(self) -> Any:
        with self._lock:
            if self._prompt is None:
                from adaptfile.prompt.assemble import PromptBuild

                a = self.artifacts
                build = PromptBuild.load(a.prompt, self.tokenizer, a.shots_index)
                if not a.use_shots:
                    build = dataclasses.replace(build, settings={**build.settings, "shots": 0})
                self._prompt = build
            return self._prompt

    @property
    def retriever(self) -> Any:
        with self._lock:
            if self._retriever is None and self.artifacts.index is not None:
                from adaptfile.knowledge.retrieval import Retriever

                self._retriever = Retriever.load(self.artifacts.index, top_k=self.artifacts.top_k)
            return self._retriever

    def load(self) -> None:
        """Load the model, prompt and index now (otherwise the first question does)."""
        _ = self.model, self.prompt_build, self.retriever

    def retrieve(self, question: str) -> list[Any]:
        """Retrieved chunks for the question ([] without RAG)."""
        retriever = self.retriever
        if retriever is None:
            return []
        with self._lock:
            return retriever.retrieve(question)

    def prepare(
        self,
        question: str,
        chunks: list[Any] | None = None,
        *,
        history: Sequence[dict[str, str]] = (),
        system: str = "",
    ) -> Prepared:
        """The serving prompt for `question` (retrieving for it unless `chunks` are given), after the
        conversation's earlier `history` turns and with a client's `system` text after the instruction."""
        with self._lock:  # the tokenizer is shared with generation, and fast tokenizers are not thread-safe
            assembled = self.assemble(question, chunks, history=history, system=system)
            ids = self.model.prompt_ids(assembled.prompt)
        shown = assembled.context  # what survived fitting the prompt budget: cite only what the model saw
        citations = [Citation(p.path, p.start, p.end) for p in shown]
        return Prepared(assembled.prompt, ids, citations, shown)

    def assemble(
        self,
        question: str,
        chunks: list[Any] | None = None,
        *,
        history: Sequence[dict[str, str]] = (),
        system: str = "",
    ) -> Any:
        """The assembled serving prompt (AssembledPrompt) for `question`; needs the tokenizer, not the model."""
        from adaptfile.prompt.template import Passage

        with self._lock:
            chunks = self.retrieve(question) if chunks is None else chunks
            passages = [Passage(c.path, c.start, c.end, c.text) for c in chunks]
            return self.prompt_build.assemble(question, passages, history=history, system=system)

    def generate(
        self,
        prepared: Prepared,
        max_new_tokens: int | None = None,
        sampling: Sampling | None = None,
        on_text: Callable[[str], bool] | None = None,
    ) -> Generation:
        """The model's continuation of a prepared prompt (greedy by default); see LoadedModel.generate."""
        with self._lock:
            return self.model.generate(prepared.ids, max_new_tokens or self.max_new_tokens, sampling, on_text)

    def answer(self, question: str, max_new_tokens: int | None = None) -> Answer:
        """Retrieve, assemble the prompt, generate greedily until EOS."""
        self.load()  # loading once is not part of a request's latency
        started = time.perf_counter()
        with self._lock:
            prepared = self.prepare(question)
            generation = self.generate(prepared, max_new_tokens)
        latency = (time.perf_counter() - started) * 1000
        return Answer(
            generation.text, prepared.citations, len(prepared.ids), round(latency, 3), generation.tokens
        )

    def answer_nll(self, question: str, gold: str, prepared: Prepared | None = None) -> float:
        """Mean NLL per token of `gold` (+ EOS) given the serving prompt, teacher-forced."""
        with self._lock:
            prepared = prepared or self.prepare(question)
            nll, _ = self.model.answer_nll(prepared.ids, gold)
        return nll


def _answer_tokens(prompt_dir: Path) -> int:
    import json

    try:
        settings = json.loads((prompt_dir / "prompt.json").read_text(encoding="utf-8"))
        return min(int(settings.get("answer_tokens", DEFAULT_MAX_NEW_TOKENS)), DEFAULT_MAX_NEW_TOKENS * 4)
    except (OSError, ValueError):
        return DEFAULT_MAX_NEW_TOKENS
