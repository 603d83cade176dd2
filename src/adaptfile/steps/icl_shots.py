"""Step icl.shots: rank demonstrations ("first", "diverse") or build the example index ("similar")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext

SPARES = 8  # ranked candidates kept beyond icl.shots: replacements when a shot equals the question


class IclShots:
    """Outputs: shots.jsonl (ranked, most useful first; for "similar" the longest examples, the worst case the
    budget must fit), index/ (the example index for "similar") and report.json."""

    name = "icl.shots"
    version = "1"
    params = None  # icl.shots, icl.selection, project.seed, rag.embed_model
    outputs = ("shots.jsonl", "index/", "report.json")
    packages = ("sentence-transformers", "numpy")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.icl.records import read_records, write_records
        from adaptfile.knowledge.embedders import DEFAULT_EMBED_MODEL

        records = read_records(ctx.upstream_output("examples.load", "examples.jsonl"))
        k = int(ctx.params.get("icl.shots") or 0)
        selection = ctx.params.get("icl.selection", "diverse")
        seed = int(ctx.params.get("project.seed", 0))
        embed_model = ctx.params.get("rag.embed_model") or DEFAULT_EMBED_MODEL
        index_dir = ctx.output("index/")
        index_dir.mkdir(parents=True, exist_ok=True)
        want = min(len(records), k + min(k, SPARES))
        report: dict[str, Any] = {"selection": selection, "shots": k, "rows": len(records), "seed": seed}
        if selection == "first":
            chosen = list(range(want))
            _note(index_dir, "first")
        elif selection == "diverse":
            chosen = _diverse(ctx, records, want, seed, embed_model)
            _note(index_dir, "diverse")
            report["embed_model"] = embed_model
        elif selection == "similar":
            chosen = _similar(ctx, records, index_dir, embed_model)[:k]
            report["embed_model"] = embed_model
        else:
            raise ValueError(f"icl.selection = {selection!r}: expected similar, diverse or first")
        report["per_query"] = selection == "similar"
        report |= {} if selection == "similar" else _coverage(records, chosen[:k])
        write_records(ctx.output("shots.jsonl"), [records[i] for i in chosen])
        text = json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ctx.output("report.json").write_text(text, encoding="utf-8")
        ctx.log(f"{selection}: {min(k, len(records))} shots of {len(records)} examples; {report}")


def _diverse(ctx: StepContext, records: list, want: int, seed: int, embed_model: str) -> list[int]:
    from adaptfile.icl.index import embed
    from adaptfile.icl.select import select_diverse

    vectors = embed([r.input for r in records], _embedder(ctx, embed_model), ctx.root, ctx.progress)
    return select_diverse(vectors, [r.label for r in records], want, seed)


def _similar(ctx: StepContext, records: list, index_dir: Path, embed_model: str) -> list[int]:
    """Write the example index; return rows from the longest example down (the budget's worst case)."""
    from adaptfile.icl.index import ExampleIndex, embed

    embedder = _embedder(ctx, embed_model)
    vectors = embed([r.input for r in records], embedder, ctx.root, ctx.progress)
    ExampleIndex(records, vectors, embedder.id, embedder.revision).save(index_dir)
    return sorted(range(len(records)), key=lambda i: (-len(records[i].input) - len(records[i].output), i))


def _note(index_dir: Path, selection: str) -> None:
    text = f'No example index: icl.selection = "{selection}" uses the fixed shots in shots.jsonl.\n'
    (index_dir / "README.txt").write_text(text, encoding="utf-8")


def _coverage(records: list, chosen: list[int]) -> dict[str, Any]:
    labels = sorted({r.label for r in records if r.label is not None})
    if not labels:
        return {"labels": 0}
    covered = sorted({records[i].label for i in chosen if records[i].label is not None})
    return {"labels": len(labels), "labels_covered": len(covered)}


kind = IclShots()


def _embedder(ctx: StepContext, embed_model: str) -> Any:
    from adaptfile.knowledge.embedders import get_embedder

    return get_embedder(embed_model, ctx.params.get("rag.embed_revision"), ctx.root)
