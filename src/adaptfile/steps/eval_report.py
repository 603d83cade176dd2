"""Step eval.report: aggregate eval.<variant> results into report.json, report.md and the goal chart."""

from __future__ import annotations

import json
from typing import Any

from adaptfile.engine.protocol import StepContext

LOADS = ("examples.load", "eval.load")  # the report's upstream steps that loaded annotated rows
SHOWN = 5  # rows named per problem; the load steps' report.json list the rest


class EvalReport:
    """build/report/: report.json (the `adapt eval --json` object), report.md, goal.png."""

    name = "eval.report"
    # 2: retrieval recall on the training examples; 3: ranking, decided_by, data checks; 4: step time;
    # 5: the preflight's memory estimate beside the plan's
    version = "5"
    params = None  # project.task, goal.*, eval.variants/ladder; eval.estimates is shown, not keyed
    outputs = ("report.json", "report.md", "goal.png")
    volatile = ("report.json", "report.md")  # they quote measured latencies and training times
    packages = ("adaptfile", "matplotlib")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.evaluate.report import make_report, plot_goal, render_markdown, training_rows

        p = ctx.params
        results = []
        for name in p.get("eval.variants", {}):
            if f"eval.{name}" in ctx.upstream:
                path = ctx.upstream_output(f"eval.{name}", "results.json")
                results.append(json.loads(path.read_text(encoding="utf-8")))
        goal = {"metric": p["goal.metric"], "target": p["goal.target"]} if p.get("goal.metric") else None
        trained = {s: d for s, d in ctx.upstream.items() if s.endswith(".train")}
        training = training_rows(p.get("eval.estimates", {}), trained)
        recall = None
        if "rag.train_context" in ctx.upstream:
            path = ctx.upstream_output("rag.train_context", "recall.json")
            recall = json.loads(path.read_text(encoding="utf-8"))
        ladder = list(p.get("eval.ladder", []))
        report = make_report(p.get("project.task", "qa"), results, goal, ladder, training, recall)
        report["data"] = data_checks(ctx)
        if "model.import" in ctx.upstream:  # the base came from a GGUF file: say which, and what it had
            gguf = ctx.upstream_output("model.import", "gguf.json")
            report["base_model"] = {"gguf": json.loads(gguf.read_text(encoding="utf-8"))}
        text = json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ctx.output("report.json").write_text(text, encoding="utf-8")
        ctx.output("report.md").write_text(render_markdown(report), encoding="utf-8")
        plot_goal(report, ctx.output("goal.png"))
        ctx.log(f"best variant: {report['best']}")


def data_checks(ctx: StepContext) -> dict[str, Any]:
    """The loaded files' bad rows, and eval rows whose input repeats a training example's (a finding)."""
    from adaptfile.icl.records import iter_records, leaked

    files = {}
    for step_id in LOADS:
        if step_id in ctx.upstream:
            loaded = json.loads(ctx.upstream_output(step_id, "report.json").read_text(encoding="utf-8"))
            first = [
                f"{loaded['path']}:{bad['line']}: {bad['message']}" for bad in loaded["bad_rows"][:SHOWN]
            ]
            files[step_id] = {"path": loaded["path"], "bad_rows": loaded["bad_row_count"], "first": first}
    checks: dict[str, Any] = {"files": [files[s] for s in LOADS if s in files], "leakage": None}
    if len(files) < len(LOADS):
        return checks
    train, evaluation = (ctx.upstream_output(s, "examples.jsonl") for s in LOADS)
    found = leaked(iter_records(train), iter_records(evaluation))
    names = files["eval.load"]["path"], files["examples.load"]["path"]
    shown = [f"{names[0]}:{r.line}: same input as {names[1]}:{line}: {r.input[:80]!r}" for r, line in found]
    checks["leakage"] = {"count": len(found), "eval": names[0], "train": names[1], "first": shown[:SHOWN]}
    if found:
        ctx.warn(
            "leakage",
            f"{names[0]}: {len(found)} eval row{'s' if len(found) != 1 else ''} repeat a training example "
            f"of {names[1]} (case and punctuation ignored): their scores are inflated; remove them from one file",
            shown[:SHOWN],
            len(found),
        )
    return checks


kind = EvalReport()
