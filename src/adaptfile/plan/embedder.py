"""Rule 2b: tune the retriever's embedder on examples that name their gold document, when RAG is chosen."""

from __future__ import annotations

from typing import Any

from adaptfile.config.model import AdaptConfig
from adaptfile.errors import PlanError
from adaptfile.plan import estimate as est
from adaptfile.plan.hardware import HardwareProfile
from adaptfile.plan.model import StrategyDecision
from adaptfile.profile.model import DataProfile

# One full batch of in-batch negatives (TUNE_BATCH): with fewer pairs each question is contrasted with only
# a handful of passages over one or two gradient steps, too little signal to move the embedder reliably,
# while 32 pairs already shift a MiniLM towards a corpus's vocabulary in a few CPU seconds.
MIN_SOURCED_EXAMPLES = 32
TUNE_BATCH = 32
TUNE_EPOCHS = 1
TUNE_LEARNING_RATE = 2e-5
# Measured by bench/rag_covidqa.py: MiniLM-L6 with 224-token chunks trains a (question, passage, negative)
# triple in ≈ 1.9 s on 2 CPU cores shared with other jobs (load ≈ 10), ≈ 0.5 s on a quiet pair of cores;
# 1 s is the middle. A GPU is assumed ≈ 30× faster (not measured here).
CPU_SECONDS_PER_TRIPLE = 1.0
GPU_SPEEDUP = 30


def decide_embedder(
    config: AdaptConfig, profile: DataProfile, rag_chosen: bool, train: HardwareProfile
) -> tuple[StrategyDecision, dict[str, Any]]:
    """(decision, rag.tune settings): chosen when RAG is and enough examples name a corpus document."""
    if "embedder" in config.strategy.exclude:
        return StrategyDecision("embedder", "rejected", "excluded by strategy.exclude"), {}
    if not rag_chosen and "embedder" not in config.strategy.include:
        return StrategyDecision("embedder", "not_needed", "RAG is not chosen: nothing retrieves"), {}
    examples = profile.examples if config.data.examples is not None else None
    sourced = examples.with_source if examples else 0
    unknown = profile.unknown_sources
    usable = sourced - sum(unknown.values())
    # rows naming no corpus document are counted and named by the plan's data warnings; the embedder tunes on the rest
    if "embedder" in config.strategy.include and not (rag_chosen and usable > 0):
        raise PlanError(
            f"strategy.include has 'embedder', but {'RAG is not chosen' if not rag_chosen else 'no example names a [data.knowledge] document'}",
            hint='give [data.examples] rows a "source" naming a document of data.knowledge.paths, or remove '
            '"embedder" from strategy.include',
        )
    if usable < MIN_SOURCED_EXAMPLES and "embedder" not in config.strategy.include:
        reason = (
            f'{usable} examples name a [data.knowledge] document ("source"); tuning the embedder needs '
            f"≥ {MIN_SOURCED_EXAMPLES}"
        )
        return StrategyDecision("embedder", "not_needed", reason), {}
    gpu = train.device == "cuda"
    seconds = usable * TUNE_EPOCHS * CPU_SECONDS_PER_TRIPLE / (GPU_SPEEDUP if gpu else 1)
    estimate = {
        "label": f"estimate, {est.ACCURACY}",
        "pairs": usable,
        "epochs": TUNE_EPOCHS,
        "tune_batch": TUNE_BATCH,
        "wall_hours": est.sig(seconds / 3600),
        "wall_minutes": est.sig(seconds / 60),
    }
    reason = (
        f"{usable} examples name their gold document: tune {config.rag.embed_model} on (question, gold "
        f"chunk, BM25 hard negative) triples, ≈{seconds / 60:.1f} min est. on {train.describe()}; off-the-shelf "
        "embedders trail BM25 on specialised corpora until tuned in-domain"
    )
    settings = {"epochs": TUNE_EPOCHS, "batch_size": TUNE_BATCH, "learning_rate": TUNE_LEARNING_RATE}
    return StrategyDecision("embedder", "chosen", reason, estimate), settings
