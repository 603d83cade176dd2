"""Step eval.report: aggregate eval.<variant> results into report.json, report.md and the goal chart."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext


class EvalReport:
    """build/report/: report.json (the `adapt eval --json` object), report.md, goal.png."""

    name = "eval.report"
    version = "4"  # 2: retrieval recall on the training examples; 3: ranking and decided_by; 4: step time
    params = None  # project.task, goal.*, eval.variants/ladder/estimates
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
        if "model.import" in ctx.upstream:  # the base came from a GGUF file: say which, and what it had
            gguf = ctx.upstream_output("model.import", "gguf.json")
            report["base_model"] = {"gguf": json.loads(gguf.read_text(encoding="utf-8"))}
        text = json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ctx.output("report.json").write_text(text, encoding="utf-8")
        ctx.output("report.md").write_text(render_markdown(report), encoding="utf-8")
        plot_goal(report, ctx.output("goal.png"))
        ctx.log(f"best variant: {report['best']}")


kind = EvalReport()
