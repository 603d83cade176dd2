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


_HUB_MODEL = """[model]
base = "Qwen/Qwen2.5-0.5B-Instruct"  # hub id, local directory, or "scratch" (`adapt init --scratch`)
revision = "main"                    # pinned into adapt.lock
params = "0.5B"                      # only needed when config.json cannot tell

# Uncomment once the files exist.
# [data.knowledge]                   # documents for retrieval (md, txt, rst, html, pdf, json, jsonl)
# paths = ["docs/**/*.md"]
# changes = "monthly"                # never | yearly | monthly | weekly | daily | hourly
#"""

# A tiny model trained on the project's own documents. The [pretrain] settings are what makes it learn: the
# defaults (1 epoch at 3e-4, 16 sequences a step) suit a large corpus and leave a few-page corpus at uniform
# guessing. 20 passes in steps of 2 sequences at 3e-3 take the held-out loss on examples/scratch's ten pages
# from 7.63 (ln 2048) to about 4.9 (tests/cli/test_init_scratch.py checks the margin).
_SCRATCH_MODEL = """[model]
base = "scratch"                     # train a new tiny model on docs/: no download, no GPU

[model.scratch]
layers = 2
hidden = 64
heads = 4
vocab_size = 2048
context = 512

[pretrain]                           # a tiny model on a small corpus: many passes in small steps
epochs = 20
learning_rate = 3e-3
batch_size = 2
grad_accum = 1

[data.knowledge]                     # the model pre-trains on these, and RAG retrieves from them
paths = ["docs/**/*.md"]             # replace docs/README.md with your pages (add globs for txt, rst, html, pdf)
changes = "monthly"                  # never | yearly | monthly | weekly | daily | hourly

# Uncomment once the files exist.
#"""
SCRATCH_DOC = """# Starter document

Put your own documents in this folder and delete this one. A model trained from scratch learns only from
the text here, so give it as much as you have: manuals, help pages, notes. Markdown, plain text,
reStructuredText, HTML and PDF files are read.

Ten short pages are enough to see every step of `adapt build` run on a laptop. The answers of a model
this small are not useful; point `model.base` at a real model for real answers.
"""


def adapt_toml_text(name: str, task: str, scratch: bool = False) -> str:
    """A valid, commented adapt.toml for `task`; data tables stay commented until files exist. With
    `scratch`, a tiny model pre-trained on docs/ with settings that learn on a few pages, and small prompts."""
    metric, target = _METRIC[task]
    prompt_tokens = (
        "384                # the 512-token context keeps room for the answer"
        if scratch
        else ("4096               # per request")
    )
    return f'''# adapt.toml: what you have and what you need. `adapt plan` explains what it will build and why.
# Paths are relative to this file. Reference: README.md ("adapt.toml reference") or `adapt schema`.

[project]
name = "{name}"
task = "{task}"                      # qa | classify | extract | summarize | chat | generate
instruction = "{_INSTRUCTION[task]}"
seed = 0

{_SCRATCH_MODEL if scratch else _HUB_MODEL}
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
max_prompt_tokens = {prompt_tokens}

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
