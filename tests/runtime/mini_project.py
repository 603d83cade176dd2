"""A reduced quickstart: three short documents, 12 examples, 4 eval rows, a 1-layer scratch model."""

from __future__ import annotations

import json
from pathlib import Path

TOML = """
[project]
name = "mini"
task = "qa"
instruction = "Answer questions about the Zed lamp."
seed = 0

[model]
base = "scratch"

[model.scratch]
layers = 1
hidden = 32
heads = 2
vocab_size = 512
context = {context}

[data.knowledge]
paths = ["docs/*.md"]
changes = "monthly"

[data.examples]
path = "data/train.jsonl"

[data.eval]
path = "data/eval.jsonl"

[needs]
citations = true

[constraints]
max_prompt_tokens = {max_prompt_tokens}
local_only = true

[hardware.train]
device = "cpu"

[hardware.serve]
device = "cpu"

[goal]
metric = "answer_nll"
target = {target}

[icl]
shots = 1

[rag]
chunk_size = 32
chunk_overlap = 4
top_k = 1

[pretrain]
epochs = 4
learning_rate = 3e-3

[lora]
epochs = 20
learning_rate = 5e-3
"""

DOCS = {
    "docs/power.md": "# Power\n\nThe Zed lamp runs on a 5 V USB-C adapter. It draws 4 W at full brightness. "
    "Hold the power button for two seconds to turn it on or off.\n",
    "docs/light.md": "# Light\n\nThe Zed lamp has three colour modes: warm, neutral and cool. Tap the top "
    "once to change the mode. Slide a finger along the edge to dim it.\n",
    "docs/care.md": "# Care\n\nClean the Zed lamp with a dry cloth. Do not use water. The warranty lasts "
    "two years and covers the LED panel and the battery.\n",
}

FACTS = [
    ("What adapter does the Zed lamp use?", "A 5 V USB-C adapter.", "docs/power.md"),
    ("How much power does the lamp draw?", "4 W at full brightness.", "docs/power.md"),
    ("How do I turn the lamp on?", "Hold the power button for two seconds.", "docs/power.md"),
    ("How do I turn the lamp off?", "Hold the power button for two seconds.", "docs/power.md"),
    ("Which colour modes are there?", "Warm, neutral and cool.", "docs/light.md"),
    ("How do I change the colour mode?", "Tap the top once.", "docs/light.md"),
    ("How do I dim the lamp?", "Slide a finger along the edge.", "docs/light.md"),
    ("How many colour modes does it have?", "Three: warm, neutral and cool.", "docs/light.md"),
    ("How do I clean the lamp?", "With a dry cloth, never water.", "docs/care.md"),
    ("Can I use water to clean it?", "No, use a dry cloth.", "docs/care.md"),
    ("How long is the warranty?", "Two years.", "docs/care.md"),
    ("What does the warranty cover?", "The LED panel and the battery.", "docs/care.md"),
]
EVAL = [
    ("What adapter does the lamp need?", "A 5 V USB-C adapter.", "docs/power.md"),
    ("How do I switch the colour mode?", "Tap the top once.", "docs/light.md"),
    ("How should I clean the Zed lamp?", "With a dry cloth, never water.", "docs/care.md"),
    ("How long does the warranty last?", "Two years.", "docs/care.md"),
]


def _jsonl(rows: list[tuple[str, str, str]]) -> str:
    return "".join(json.dumps({"question": q, "answer": a, "source": s}) + "\n" for q, a, s in rows)


def write_mini_project(
    root: Path, target: float = 0.5, context: int = 128, max_prompt_tokens: int = 96
) -> Path:
    """Write the project under `root`; `target` is the answer_nll goal, `context` the model's window."""
    settings = {"{target}": target, "{context}": context, "{max_prompt_tokens}": max_prompt_tokens}
    toml = TOML
    for placeholder, value in settings.items():
        toml = toml.replace(placeholder, str(value))
    files = {
        "adapt.toml": toml,
        **DOCS,
        "data/train.jsonl": _jsonl(FACTS),
        "data/eval.jsonl": _jsonl(EVAL),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_adapt(root: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    """`adapt -C root ARGS` in-process, as main() reports it: (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from adaptfile.cli import cli
    from adaptfile.errors import AdaptError

    result = CliRunner().invoke(cli, ["-C", str(root), *args], input=input, standalone_mode=False)
    error = result.exception
    if isinstance(error, AdaptError):
        return error.exit_code, result.stdout, result.stderr + f"error: {error.render()}\n"
    if error is not None and not isinstance(error, SystemExit):
        raise error
    return result.exit_code or 0, result.stdout, result.stderr
