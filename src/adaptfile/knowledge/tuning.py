"""Domain-tune the embedder: (question, gold chunk, BM25 hard negative) triples, trained with sentence-transformers."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptfile.knowledge.chunking import Chunk
from adaptfile.knowledge.metrics import normalize, same_source

EPOCHS = 1
BATCH_SIZE = 32  # in-batch negatives: each question sees 2×(batch−1) other passages besides its hard negative
LEARNING_RATE = 2e-5  # the sentence-transformers training examples' default for MiniLM-sized models
HARD_NEGATIVES = 1  # BM25's best non-gold chunk per question; MNRL needs the same count on every row
NEGATIVE_DEPTH = 8  # BM25 hits scanned for a hard negative


@dataclass(frozen=True)
class Question:
    """One example that names its gold document: the question, the document, the answer text if known."""

    text: str
    source: str
    answer: str | None = None


@dataclass
class TrainingSet:
    """The triples to train on and what could not become one (for the step's report)."""

    anchors: list[str] = field(default_factory=list)
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)  # one per row, or empty when none could be mined
    answer_found: int = 0  # gold chunk = the chunk containing the answer text
    bm25_fallback: int = 0  # gold chunk = the document's best BM25 chunk (answer text not found)
    unknown_sources: dict[str, int] = field(default_factory=dict)  # source → rows naming no corpus document

    def __len__(self) -> int:
        return len(self.anchors)

    def to_json(self) -> dict[str, Any]:
        return {
            "pairs": len(self),
            "hard_negatives": bool(self.negatives),
            "answer_found": self.answer_found,
            "bm25_fallback": self.bm25_fallback,
            "unknown_sources": dict(sorted(self.unknown_sources.items())),
        }


class _Bm25:
    """bm25s over chunk texts (the same tokenizer and stopwords as the bench's BM25 baseline)."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.model = bm25s.BM25()
        self.model.index(
            bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False
        )
        self.size = len(texts)

    def scores(self, question: str) -> Any:
        tokens = self._bm25s.tokenize([question], stopwords="en", show_progress=False, return_ids=False)[0]
        return self.model.get_scores(tokens)


def training_set(questions: Sequence[Question], chunks: Sequence[Chunk]) -> TrainingSet:
    """Gold chunk per question (the chunk of its document holding the answer text, else the document's
    best BM25 chunk) and one BM25 hard negative from anywhere in the corpus that is not a gold chunk."""
    import numpy as np

    out = TrainingSet()
    if not chunks:
        return out
    texts = [chunk.embed_text() for chunk in chunks]
    bm25 = _Bm25(texts)
    by_path: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_path.setdefault(chunk.path, []).append(i)
    wanted: list[str | None] = []
    for q in questions:
        paths = [p for p in by_path if same_source(p, q.source)]
        if not paths:
            out.unknown_sources[q.source] = out.unknown_sources.get(q.source, 0) + 1
            continue
        own = [i for p in paths for i in by_path[p]]
        scores = bm25.scores(q.text)
        answer = normalize(q.answer) if q.answer else ""
        holding = [i for i in own if answer and answer in normalize(chunks[i].text)]
        if holding:  # the first chunk holding the answer, by BM25 where overlap puts it in two
            gold = max(holding, key=lambda i: (scores[i], -i))
            out.answer_found += 1
        else:
            gold = max(own, key=lambda i: (scores[i], -i))
            out.bm25_fallback += 1
        # Never a chunk that also holds the answer; without answer text, nothing from the gold document.
        excluded = set(holding) if holding else set(own)
        excluded.add(gold)
        ranked = np.argsort(-scores, kind="stable")[:NEGATIVE_DEPTH]
        negative = next((texts[i] for i in ranked.tolist() if i not in excluded), None)
        out.anchors.append(q.text)
        out.positives.append(texts[gold])
        wanted.append(negative)
    if wanted and all(n is not None for n in wanted):
        out.negatives = [n for n in wanted if n is not None]
    return out


def tune_embedder(
    base: str,
    data: TrainingSet,
    out_dir: Path,
    seed: int,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    progress: Callable[[float, float | None, str], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune the sentence-transformers model at `base` (a local directory) with
    MultipleNegativesRankingLoss (in-batch plus hard negatives) and save it as a plain directory."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback, set_seed

    set_seed(seed)  # same seed, same batches
    cuda = torch.cuda.is_available()
    model = SentenceTransformer(base, device=None if cuda else "cpu")
    columns: dict[str, list[str]] = {"anchor": data.anchors, "positive": data.positives}
    if data.negatives:
        columns["negative"] = data.negatives
    dataset = Dataset.from_dict(columns)
    steps_total = epochs * -(-len(dataset) // min(batch_size, len(dataset)))

    class Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(
                    state.global_step, steps_total, f"tuning embedder: step {state.global_step}/{steps_total}"
                )

    with tempfile.TemporaryDirectory(prefix="adapt-embtune.") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=epochs,
            per_device_train_batch_size=min(batch_size, len(dataset)),
            learning_rate=learning_rate,
            warmup_steps=0.1,  # a float: the warmup share of all steps (transformers v5)
            seed=seed,
            data_seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,  # a duplicate passage in a batch is a false negative
            save_strategy="no",
            report_to="none",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=not cuda,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model),
            callbacks=[Progress()],
        )
        # Deterministic kernels make a CPU tuning write the same bytes twice. On CUDA they would need
        # CUBLAS_WORKSPACE_CONFIG set before the process started (adapt sets no environment variables), so a GPU
        # trains with torch's defaults. The process's setting is restored for the steps that run after this one.
        before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(not cuda)
        try:
            result = trainer.train()
        finally:
            torch.use_deterministic_algorithms(before)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir), create_model_card=False)  # the card records wall times: not reproducible
    return {
        "steps": int(result.global_step),
        "loss": round(float(result.training_loss), 6),
        "rows": len(dataset),
    }
