"""Step knowledge.load: read every file matched by data.knowledge.paths into documents.jsonl."""

from __future__ import annotations

import json

from adaptfile.engine.protocol import StepContext


class KnowledgeLoad:
    """Documents with stable ids (relative paths); unreadable files skipped with a warning (or --strict: error)."""

    name = "knowledge.load"
    version = "2"  # 2: text files without an extension are read; skipped files carry their reason
    params = ("data.knowledge.paths", "data.knowledge.text_field", "strict")  # strict: `adapt build --strict`
    outputs = ("documents.jsonl", "skipped.json")
    packages: tuple[str, ...] = ()

    def run(self, ctx: StepContext) -> None:
        from adaptfile.knowledge.documents import load_documents, require_files
        from adaptfile.knowledge.pipeline import write_jsonl

        patterns = ctx.params.get("data.knowledge.paths") or []
        require_files(ctx.inputs, patterns)
        text_field = ctx.params.get("data.knowledge.text_field") or "text"
        result = load_documents(
            ctx.root, ctx.inputs, text_field, strict=bool(ctx.params.get("strict", False))
        )
        for (
            warning
        ) in result.warnings():  # the build summary shows it; skipped.json lists every file and reason
            ctx.log(f"warning: {warning} (all of them in build/knowledge.load/skipped.json)")
        count = write_jsonl(ctx.output("documents.jsonl"), (doc.to_json() for doc in result.documents))
        skipped = [{"path": path, "reason": reason} for path, reason in result.skipped]
        ctx.output("skipped.json").write_text(json.dumps(skipped, indent=1) + "\n", encoding="utf-8")
        ctx.log(f"loaded {count} documents from {len(ctx.inputs)} files ({len(skipped)} skipped)")


kind = KnowledgeLoad()
