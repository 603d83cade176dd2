"""Step prompt.render: the system prompt, the shots that fit the budget and the template, as plain files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptfile.engine.protocol import StepContext

PLACEHOLDER_QUESTION = "(question)"  # measured when there is neither an eval set nor examples
TOKENS_COUNTED = (  # prompt.json's `tokens` is a budget check, not any one question's prompt: say so
    "the longest question's prompt (longest_question) with these shots and context_budget tokens reserved "
    "for retrieval; per question, `adapt ask`, `--prompt-only` and eval count the prompt actually served"
)


class PromptRender:
    """system.txt, template.j2, shots.jsonl (+ spares.jsonl), prompt.json (settings, budget, token counts)
    and example.txt (the full prompt for the longest question)."""

    name = "prompt.render"
    version = "3"  # 2: shots are user/assistant turns; 3: totals count special tokens, tokens_counted
    params = None  # project.task/instruction, icl.template, constraints.max_prompt_tokens, rag.*, model.*
    outputs = ("system.txt", "template.j2", "shots.jsonl", "spares.jsonl", "prompt.json", "example.txt")
    packages = ("adaptfile", "jinja2", "transformers")

    def run(self, ctx: StepContext) -> None:
        from adaptfile.prompt.assemble import PROMPT_SCHEMA, write_shots
        from adaptfile.prompt.budget import fit_shots, measure, serving_limit
        from adaptfile.prompt.chat import format_prompt, has_chat_template, render_messages
        from adaptfile.prompt.template import Passage, load_template

        p = ctx.params
        task = p.get("project.task", "qa")
        instruction = (p.get("project.instruction") or "").strip()
        template = load_template(ctx.root, task, p.get("icl.template"))
        tokenizer, tokenizer_name = _tokenizer(ctx)
        wanted, per_query, candidates = _candidates(ctx)
        question, question_from = _longest_question(ctx)
        passages = [Passage(d["path"], 0, len(d["text"]), d["text"]) for d in _documents(ctx)]
        budget = _context_budget(p)
        window, answer, limit = serving_limit(p, tokenizer)  # the training steps fit the same budget
        common = {"instruction": instruction, "question": question, "tokenizer": tokenizer}
        kept, tokens = fit_shots(
            template,
            shots=candidates[:wanted],
            limit=limit,
            context=passages,
            context_budget=budget,
            **common,
        )
        warnings = _warnings(wanted, len(kept), tokens.total, limit, per_query)
        if not kept and tokens.total > limit:
            bare = measure(template, shots=[], context=passages, context_budget=budget, **common)
            tokens = bare
        settings = {
            "schema": PROMPT_SCHEMA,
            "task": task,
            "template": template.name,
            "selection": _selection(ctx),
            "per_query": per_query,
            "shots": len(kept),
            "shots_wanted": wanted,
            "format": "chat_template" if has_chat_template(tokenizer) else "plain",
            "tokenizer": tokenizer_name,
            "limit": limit,
            "max_prompt_tokens": int(p.get("constraints.max_prompt_tokens", 4096)),
            "context_window": window,
            "answer_tokens": answer,
            "context_budget": budget,
            "top_k": p.get("rag.top_k"),  # passages retrieved per question at serving time
            "knowledge_in_prompt": bool(passages),
            "longest_question": question_from,
            "tokens": tokens.to_json(),
            "tokens_counted": TOKENS_COUNTED,
            "warnings": warnings,
        }
        fixed = [] if per_query else kept
        messages = render_messages(
            template, instruction=instruction, shots=kept, context=passages, question=question
        )
        _write(ctx.output("system.txt"), instruction + "\n" if instruction else "")
        _write(ctx.output("template.j2"), template.source)
        write_shots(ctx.output("shots.jsonl"), fixed)
        write_shots(ctx.output("spares.jsonl"), [] if per_query else candidates[wanted:])
        _write(
            ctx.output("prompt.json"),
            json.dumps(settings, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
        )
        _write(ctx.output("example.txt"), format_prompt(messages, tokenizer))
        ctx.log(f"{len(kept)} of {wanted} shots fit {tokens.total} / {limit} tokens ({tokenizer_name})")
        for warning in warnings:
            ctx.log(f"warning: {warning}")


def _candidates(ctx: StepContext) -> tuple[int, bool, list[Any]]:
    """(shots wanted, chosen per question?, candidates most useful first — worst case for "similar")."""
    from adaptfile.prompt.assemble import read_shots

    if "icl.shots" not in ctx.upstream:
        return 0, False, []
    report = json.loads(ctx.upstream_output("icl.shots", "report.json").read_text(encoding="utf-8"))
    shots = read_shots(ctx.upstream_output("icl.shots", "shots.jsonl"))
    return min(int(report["shots"]), len(shots)), bool(report.get("per_query")), shots


def _selection(ctx: StepContext) -> str | None:
    if "icl.shots" not in ctx.upstream:
        return None
    return json.loads(ctx.upstream_output("icl.shots", "report.json").read_text(encoding="utf-8"))[
        "selection"
    ]


def _longest_question(ctx: StepContext) -> tuple[str, str]:
    """The longest eval input (else example input): the prompt that must fit. Returns (text, where from)."""
    from adaptfile.icl.records import read_records

    for step_id in ("eval.load", "examples.load", "icl.shots"):
        if step_id not in ctx.upstream:
            continue
        name = "shots.jsonl" if step_id == "icl.shots" else "examples.jsonl"
        records = read_records(ctx.upstream_output(step_id, name))
        if records:
            longest = max(records, key=lambda r: (len(r.input), -r.line))
            return longest.input, f"{step_id} line {longest.line}"
    return PLACEHOLDER_QUESTION, "placeholder"


def _documents(ctx: StepContext) -> list[dict[str, Any]]:
    """The whole corpus, when the plan puts it into the prompt (prompt.render depends on knowledge.load)."""
    if "knowledge.load" not in ctx.upstream:
        return []
    path = ctx.upstream_output("knowledge.load", "documents.jsonl")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _context_budget(params: dict[str, Any]) -> int:
    """Tokens reserved for retrieved passages: rag.top_k × (hit chunk + its neighbours), or the planner's figure."""
    if params.get("rag.top_k") and params.get("rag.chunk_size"):
        from adaptfile.plan.prompting import passage_tokens

        chunk = int(params["rag.chunk_size"])
        overlap = int(params.get("rag.chunk_overlap") or 0)
        return int(params["rag.top_k"]) * passage_tokens(chunk, overlap, int(params.get("rag.window") or 0))
    return int(params.get("prompt.context_tokens") or 0)


def _tokenizer(ctx: StepContext) -> tuple[Any | None, str]:
    """The tokenizer prompts are counted and wrapped with: the scratch model's, or the pinned base model's."""
    from adaptfile.prompt.budget import load_tokenizer

    for step, folder in (("pretrain.tokenizer", "tokenizer"), ("model.import", "model")):
        if step in ctx.upstream:
            return load_tokenizer(str(ctx.upstream[step] / folder), ctx.root), step
    base = str(ctx.params["model.base"])
    if base == "scratch":  # no model, no tokenizer: estimates (real plans always add pretrain.tokenizer)
        return None, "estimate (4 characters per token)"
    revision = ctx.params.get("model.commit") or ctx.params.get("model.revision")
    trust = bool(ctx.params.get("model.trust_remote_code", False))
    return load_tokenizer(base, ctx.root, revision, trust), base


def _warnings(wanted: int, kept: int, total: int, limit: int, per_query: bool) -> list[str]:
    out = []
    if wanted and not kept:
        out.append(
            f"not even one demonstration fits the {limit:,}-token prompt budget: fine-tune instead "
            "(it moves the demonstrations into the weights; docs/strategies/lora.md), or raise "
            "constraints.max_prompt_tokens"
        )
    elif kept < wanted:
        what = "up to " if per_query else ""
        out.append(
            f"{wanted - kept} of {wanted} shots dropped to fit the {limit:,}-token budget; {what}{kept} remain"
        )
    if total > limit:
        out.append(
            f"the prompt for the longest question needs {total:,} tokens, over the {limit:,}-token budget"
        )
    return out


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


kind = PromptRender()
