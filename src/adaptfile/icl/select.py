"""Choose demonstrations: first rows, a diverse label-balanced set (MMR over embeddings), or nearest neighbours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MMR_LAMBDA = 0.3  # relevance (close to the centre) vs novelty (far from what is already chosen)
MAX_POOL = 20_000  # rows considered by "diverse"; larger files are sampled with the project seed


def select_first(count: int, k: int) -> list[int]:
    """The first k rows, in file order."""
    return list(range(min(k, count)))


def select_diverse(vectors: np.ndarray, labels: Sequence[str | None], k: int, seed: int = 0) -> list[int]:
    """k row indices, most useful first: labels covered round-robin (the most frequent first), and within
    a label (or the whole set) maximal marginal relevance — near the centre, far from the chosen rows."""
    n = len(vectors)
    k = min(k, n)
    if k <= 0:
        return []
    pool = np.arange(n)
    if n > MAX_POOL:
        pool = np.sort(np.random.default_rng(seed).choice(n, MAX_POOL, replace=False))
    if all(label is None for label in labels):
        return [int(pool[i]) for i in _mmr(vectors[pool], k)]
    groups: dict[str, list[int]] = {}
    for i in pool:
        groups.setdefault(str(labels[i]), []).append(int(i))
    order = _label_order(vectors, groups)
    ranked = {label: [groups[label][i] for i in _mmr(vectors[groups[label]], k)] for label in order}
    chosen: list[int] = []
    depth = 0
    while len(chosen) < k:
        for label in order:
            if depth < len(ranked[label]) and len(chosen) < k:
                chosen.append(ranked[label][depth])
        depth += 1
    return chosen


def nearest(index: np.ndarray, query: np.ndarray, k: int, exclude: Sequence[int] = ()) -> list[int]:
    """Rows of `index` most similar to `query` (cosine on normalised vectors), nearest first; ties by row."""
    scores = index @ query
    if len(exclude):
        scores = scores.copy()
        scores[list(exclude)] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return [int(i) for i in sorted(top, key=lambda i: (-scores[i], i))]


def label_coverage(labels: Sequence[str | None], chosen: Sequence[int]) -> float:
    """Fraction of the distinct labels that the chosen rows cover (1.0 when rows carry no labels)."""
    every = {label for label in labels if label is not None}
    if not every:
        return 1.0
    return len({labels[i] for i in chosen} & every) / len(every)


def _mmr(vectors: np.ndarray, k: int) -> list[int]:
    """Maximal marginal relevance from the medoid: deterministic (ties go to the earlier row)."""
    n = len(vectors)
    k = min(k, n)
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    relevance = vectors @ (centre / norm) if norm else np.zeros(n, dtype=vectors.dtype)
    chosen = [int(np.argmax(relevance))]
    closest = vectors @ vectors[chosen[0]]
    taken = np.zeros(n, dtype=bool)
    taken[chosen[0]] = True
    while len(chosen) < k:
        score = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * closest
        score[taken] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        taken[best] = True
        closest = np.maximum(closest, vectors @ vectors[best])
    return chosen


def _label_order(vectors: np.ndarray, groups: dict[str, list[int]]) -> list[str]:
    """Labels by diversity: the most frequent first, then farthest-first over label centroids."""
    names = sorted(groups, key=lambda name: (-len(groups[name]), name))
    centres = np.stack([vectors[groups[name]].mean(axis=0) for name in names])
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    centres = centres / np.where(norms == 0, 1, norms)
    order = [0]
    closest = centres @ centres[0]
    taken = np.zeros(len(names), dtype=bool)
    taken[0] = True
    while len(order) < len(names):
        score = np.where(taken, np.inf, closest)
        best = int(np.argmin(score))
        order.append(best)
        taken[best] = True
        closest = np.maximum(closest, centres @ centres[best])
    return [names[i] for i in order]
