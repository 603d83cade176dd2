"""Step examples.load: read data.examples or data.eval, normalise every row, drop exact duplicates, report."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext

SHOWN = 5  # bad rows named in the build's warning; report.json lists up to 200


class ExamplesLoad:
    """Serves both `examples.load` (data.examples.*) and `eval.load` (data.eval.*): whichever params it gets."""

    name = "examples.load"
    version = "2"  # 2: bad rows are findings (warned on every build, --strict)
    params = None  # data.examples.path/format or data.eval.path/format, by step
    outputs = ("examples.jsonl", "report.json")
    packages = ()

    def run(self, ctx: StepContext) -> None:
        from adaptfile.config.model import ExamplesConfig
        from adaptfile.icl.records import load_records, write_records

        prefix = "data.eval" if "data.eval.path" in ctx.params else "data.examples"
        config = ExamplesConfig(
            path=ctx.params[f"{prefix}.path"], format=ctx.params.get(f"{prefix}.format", "auto")
        )
        records, report = load_records(ctx.root, config, prefix)
        write_records(ctx.output("examples.jsonl"), records)  # streams: the report is complete after it
        if report.bad_row_count:
            count = report.bad_row_count
            ctx.warn(
                "bad-rows",
                f"{report.path} ({prefix}): {count} bad row{'s' if count != 1 else ''} skipped",
                [f"{report.path}:{bad['line']}: {bad['message']}" for bad in report.bad_rows[:SHOWN]],
                count,
            )
        text = json.dumps(report.to_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ctx.output("report.json").write_text(text, encoding="utf-8")
        ctx.log(report.summary())
        for bad in report.bad_rows:
            ctx.log(f"  {report.path}:{bad['line']}: skipped: {bad['message']}")
        for dup in report.duplicates:
            ctx.log(f"  {report.path}:{dup['line']}: exact duplicate of line {dup['same_as']}: dropped")
        for near in report.near_duplicates:
            ctx.log(f"  {report.path}:{near['line']}: near-duplicate of line {near['like']}: kept")


kind = ExamplesLoad()
