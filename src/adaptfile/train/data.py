"""Training records: examples rendered through the shared templates, corpus text cut into sequences."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptfile.errors import StepFailed
from adaptfile.profile.formats import Example

IGNORE = -100  # label of a token the loss skips
HELDOUT_MAX = 256

Renderer = Callable[[Example], tuple[str, str]]


@dataclass(frozen=True)
class Record:
    """One training sequence: token ids and their labels (IGNORE where no loss is taken)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def targets(self) -> int:
        """Tokens the loss is taken on (the first token never is: nothing precedes it)."""
        return sum(1 for label in self.labels[1:] if label != IGNORE)


def serving_renderer(
    root: Path, params: dict[str, Any], tokenizer: Any, contexts: dict[str, list[Any]] | None = None
) -> Renderer:
    """Example → (serving prompt, target + EOS): the prompt `adapt ask` assembles for the example's input
    (PromptBuild.assemble, same budget fitting), with the passages retrieval returns for it (`contexts`:
    input → retrieved chunks, from rag.train_context) and no demonstrations."""
    from adaptfile.prompt.assemble import PromptBuild
    from adaptfile.prompt.chat import eos_token
    from adaptfile.prompt.template import Passage

    build = PromptBuild.for_training(root, params, tokenizer)

    def render(example: Example) -> tuple[str, str]:
        chunks = (contexts or {}).get(example.input, [])
        passages = [Passage(c["path"], c["start"], c["end"], c["text"]) for c in chunks]
        return build.assemble(example.input, passages).prompt, example.output + eos_token(tokenizer)

    return render


def read_contexts(directory: Path) -> dict[str, list[Any]]:
    """rag.train_context's context.jsonl: example input → the chunks retrieved for it, best first."""
    rows = (
        json.loads(line) for line in (directory / "context.jsonl").read_text(encoding="utf-8").splitlines()
    )
    return {row["input"]: row["chunks"] for row in rows}


def prompt_rows(examples: Iterable[Example], render: Renderer, tokenizer: Any) -> list[dict[str, Any]]:
    """build/<step>/train_prompts.jsonl rows: the exact text the model reads before each target."""
    rows = []
    for example in examples:
        prompt, completion = render(example)
        rows.append(
            {
                "input": example.input,
                "prompt": prompt,
                "target": completion,
                "prompt_tokens": len(tokenizer(prompt, add_special_tokens=True)["input_ids"]),
                "target_tokens": len(tokenizer(completion, add_special_tokens=False)["input_ids"]),
            }
        )
    return rows


def sft_records(examples: Iterable[Example], render: Renderer, tokenizer: Any, max_len: int) -> list[Record]:
    """Prompt tokens labelled IGNORE, target tokens labelled with themselves (completion-only loss).

    Prompt and target are tokenized apart so the boundary is exact; a sequence over `max_len`
    loses the start of its prompt (the question's end and the whole answer matter most).
    """
    records = []
    for example in examples:
        prompt, completion = render(example)
        p = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        c = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
        c = c[: max(1, max_len - min(len(p), max_len // 2))]
        p = p[len(p) + len(c) - max_len :] if len(p) + len(c) > max_len else p
        records.append(Record(tuple(p + c), (IGNORE,) * len(p) + tuple(c)))
    return records


def corpus_records(texts: Iterable[str], tokenizer: Any, max_len: int) -> list[Record]:
    """Each text + EOS cut into pieces of at most `max_len` tokens; loss on every token."""
    records = []
    for text in texts:
        ids = [*list(tokenizer(text, add_special_tokens=True)["input_ids"]), tokenizer.eos_token_id]
        for start in range(0, len(ids), max_len):
            piece = tuple(ids[start : start + max_len])
            if len(piece) > 1:
                records.append(Record(piece, piece))
    return records


def split_heldout(items: Sequence[Any], seed: int, fraction: float) -> tuple[list[Any], list[Any]]:
    """(train, held-out): a seeded `fraction` slice (at most 256, at least 1 when there are 2+) for eval
    loss; fraction 0 keeps nothing out."""
    if fraction <= 0:
        return list(items), []
    if len(items) < 2:
        return list(items), list(items)
    count = min(HELDOUT_MAX, max(1, round(len(items) * fraction)))
    chosen = set(random.Random(seed).sample(range(len(items)), count))
    train = [item for i, item in enumerate(items) if i not in chosen]
    return train, [items[i] for i in sorted(chosen)]


def read_examples_dir(directory: Path) -> list[Example]:
    """Normalised examples from an examples.load output: examples.jsonl records of Example fields."""
    examples = []
    files = [directory / "examples.jsonl"] if (directory / "examples.jsonl").is_file() else []
    for path in files or sorted(directory.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "input" not in row or "output" not in row:
                continue
            messages = row.get("messages")
            examples.append(
                Example(
                    input=row["input"],
                    output=row["output"],
                    label=row.get("label"),
                    source=row.get("source"),
                    messages=tuple(_turn(t) for t in messages) if messages else None,
                )
            )
    if not examples:
        raise StepFailed(
            f"no examples found in {directory}",
            hint="check data.examples: `adapt build examples.load` should write normalised JSONL records",
        )
    return examples


def _turn(turn: Any) -> tuple[str, str]:
    if isinstance(turn, dict):
        return str(turn["role"]), str(turn["content"])
    role, content = turn
    return str(role), str(content)


def read_corpus_dir(directory: Path) -> list[str]:
    """Document texts from a knowledge.load / examples.load output (JSONL "text" records, or .txt/.md)."""
    texts: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    text = row.get("text") or row.get("content")
                    if text is None and "input" in row and "output" in row:
                        text = f"{row['input']}\n{row['output']}"
                    if text:
                        texts.append(text)
        elif path.suffix in (".txt", ".md"):
            texts.append(path.read_text(encoding="utf-8"))
    if not texts:
        raise StepFailed(
            f"no text found in {directory}",
            hint="the corpus step must write JSONL records with a 'text' field",
        )
    return texts
