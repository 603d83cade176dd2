"""Sequence packing: best-fit bins near the longest record, position ids that keep examples apart."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adaptfile.train.data import IGNORE, Record


@dataclass(frozen=True)
class Row:
    """One row of a batch: one record, or several packed ones with position ids restarting at 0."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    position_ids: tuple[int, ...]
    examples: int


def best_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices grouped into bins of at most `capacity` tokens: best-fit decreasing, deterministic."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin number), sorted
    for i in order:
        at = bisect.bisect_left(free, (lengths[i], -1))
        if at == len(free):
            bins.append([i])
            bisect.insort(free, (capacity - lengths[i], len(bins) - 1))
        else:
            room, number = free.pop(at)
            bins[number].append(i)
            bisect.insort(free, (room - lengths[i], number))
    return bins


def pack(records: Sequence[Record], capacity: int | None = None) -> list[Row]:
    """Records packed into rows of at most `capacity` (default: the longest record) tokens.

    Each record's first label is IGNORE, so no token is predicted across a boundary, and its
    position ids restart at 0, which transformers turns into a block-diagonal causal mask.
    """
    if not records:
        return []
    capacity = capacity or max(len(r) for r in records)
    rows = []
    for group in best_fit([len(r) for r in records], capacity):
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in sorted(group):
            record = records[i]
            ids += record.input_ids
            labels += (IGNORE, *record.labels[1:])
            positions += range(len(record))
        rows.append(Row(tuple(ids), tuple(labels), tuple(positions), len(group)))
    return rows


def unpacked(records: Sequence[Record]) -> list[Row]:
    """One record per row (padding with an attention mask; for models without packed attention)."""
    return [Row(r.input_ids, r.labels, tuple(range(len(r))), 1) for r in records]


def rows_per_batch(rows: Sequence[Row], batch_size: int) -> int:
    """Rows per device batch so a step sees about `batch_size` examples, as it would unpacked."""
    per_row = sum(r.examples for r in rows) / max(len(rows), 1)
    return max(1, min(batch_size, round(batch_size / per_row)))


def epoch_order(rows: Sequence[Row], epochs: float, seed: int) -> list[Row]:
    """The rows of every epoch, each epoch shuffled by (seed, epoch): the whole run's data order."""
    total = math.ceil(len(rows) * epochs)
    ordered: list[Row] = []
    epoch = 0
    while len(ordered) < total:
        indices = list(range(len(rows)))
        random.Random(f"{seed}:{epoch}").shuffle(indices)
        ordered += [rows[i] for i in indices]
        epoch += 1
    return ordered[:total]


class Collator:
    """Rows → tensors padded to the longest row; packed rows carry position ids and no attention mask."""

    def __init__(self, pad_id: int, packed: bool) -> None:
        self.pad_id = pad_id
        self.packed = packed

    def __call__(self, rows: Sequence[Row]) -> dict[str, Any]:
        import torch

        width = max(len(r.input_ids) for r in rows)
        ids, labels, positions, mask = [], [], [], []
        for row in rows:
            pad = width - len(row.input_ids)
            ids.append([*row.input_ids, *[self.pad_id] * pad])
            labels.append([*row.labels, *[IGNORE] * pad])
            positions.append([*row.position_ids, *range(pad)])  # padding: a separate, ignored sequence
            mask.append([1] * len(row.input_ids) + [0] * pad)
        batch = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
        if self.packed:
            batch["position_ids"] = torch.tensor(positions)
        else:
            batch["attention_mask"] = torch.tensor(mask)
        return batch
