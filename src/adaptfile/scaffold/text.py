"""The commented adapt.toml that `adapt init` writes, per task kind."""

from __future__ import annotations

GITIGNORE_LINES = (".adapt/", "build/")

_METRIC = {
    "qa": ("f1", 0.6),
    "extract": ("exact_match", 0.8),
    "classify": ("accuracy", 0.9),
    "summarize": ("rouge_l", 0.4),
    "chat": ("answer_nll", 2.0),
    "generate": ("rouge_l", 0.4),
}

_INSTRUCTION = {
    "qa": "Answer questions about our product using the documentation.",
    "classify": "Classify each message into one of our categories.",
    "extract": "Extract the requested fields from the text.",
    "summarize": "Summarize the text in two sentences.",
    "chat": "You are our product's helpful assistant.",
    "generate": "Write the requested text in our house style.",
}


def adapt_toml_text(name: str, task: str) -> str:
    """A valid, commented adapt.toml for `task`; data tables stay commented until files exist."""
    metric, target = _METRIC[task]
    return f'''# adapt.toml: what you have and what you need. `adapt plan` explains what it will build and why.
# Paths are relative to this file. Reference: README.md ("adapt.toml reference") or `adapt schema`.

[project]
name = "{name}"
task = "{task}"                      # qa | classify | extract | summarize | chat | generate
instruction = "{_INSTRUCTION[task]}"
seed = 0

[model]
base = "Qwen/Qwen2.5-0.5B-Instruct"  # hub id, local directory, or "scratch" (see below)
revision = "main"                    # pinned into adapt.lock
params = "0.5B"                      # only needed when config.json cannot tell
# Offline, without a hub model: base = "scratch" trains a tiny model on your documents, e.g.
# [model.scratch] layers = 2, hidden = 64, heads = 4, vocab_size = 2048, context = 512 — then
# keep prompts small: [constraints] max_prompt_tokens = 384, [rag] chunk_size = 64, top_k = 2,
# window = 0 (examples/quickstart is such a project).

# Uncomment once the files exist.
# [data.knowledge]                   # documents for retrieval (md, txt, rst, html, pdf, json, jsonl)
# paths = ["docs/**/*.md"]
# changes = "monthly"                # never | yearly | monthly | weekly | daily | hourly
#
# [data.examples]                    # annotated pairs: demonstrations and fine-tuning data
# path = "data/train.jsonl"          # JSONL, JSON array or CSV
# format = "auto"                    # auto | messages | alpaca | prompt-completion | text-label
#
# [data.eval]                        # held-out pairs the leaderboard is computed on
# path = "data/eval.jsonl"

[needs]
citations = false                    # answers must point at their sources
hallucination_tolerance = "medium"   # low | medium | high
custom_style = false                 # a tone or format instructions alone do not achieve
keep_general_skills = true           # forgetting other skills is unacceptable (favours PEFT)

[constraints]
budget_usd = 100                     # training spend allowed
max_latency_ms = 2000                # per request when serving
max_prompt_tokens = 4096             # per request

[hardware.train]
device = "cpu"                       # cpu | cuda | mps
# gpu = "A10G"                       # with cuda: T4, L4, A10G, RTX4090, A100-40GB, A100-80GB, H100-80GB, H200-141GB
count = 1

# [goal]                             # build stops at the first variant that reaches it (needs data.eval)
# metric = "{metric}"
# target = {target}

[icl]
template = "templates/{task}.j2"     # edit it: this one template renders every prompt and training text
'''
