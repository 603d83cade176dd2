"""Step knowledge.load: read every file matched by data.knowledge.paths into documents.jsonl."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext

SHOWN = 5  # skipped files named in the build's warning; skipped.json lists them all


class KnowledgeLoad:
    """Documents with stable ids (relative paths); unreadable files skipped with a finding (--strict: an error)."""

    name = "knowledge.load"
    version = "2"  # 2: extensionless text files read; skipped files are findings with their reason
    params = ("data.knowledge.paths", "data.knowledge.text_field")
    outputs = ("documents.jsonl", "skipped.json")
    packages: tuple[str, ...] = ()

    def run(self, ctx: StepContext) -> None:
        from adaptfile.knowledge.documents import load_documents, require_files
        from adaptfile.knowledge.pipeline import write_jsonl

        patterns = ctx.params.get("data.knowledge.paths") or []
        require_files(ctx.inputs, patterns)
        text_field = ctx.params.get("data.knowledge.text_field") or "text"
        result = load_documents(ctx.root, ctx.inputs, text_field)
        if result.skipped:
            count = len(result.skipped)
            ctx.warn(
                "unreadable-files",
                f"data.knowledge.paths: {count} file{'s' if count != 1 else ''} skipped",
                [f"{path}: {reason}" for path, reason in result.skipped[:SHOWN]],
                count,
            )
        count = write_jsonl(ctx.output("documents.jsonl"), (doc.to_json() for doc in result.documents))
        skipped = [{"path": path, "reason": reason} for path, reason in result.skipped]
        ctx.output("skipped.json").write_text(json.dumps(skipped, indent=1) + "\n", encoding="utf-8")
        ctx.log(f"loaded {count} documents from {len(ctx.inputs)} files ({len(skipped)} skipped)")


kind = KnowledgeLoad()
