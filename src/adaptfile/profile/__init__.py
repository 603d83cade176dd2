"""Profile the data an adapt.toml names: cheap counts, sizes, formats and token estimates (stdlib only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adaptfile.errors import ConfigError
from adaptfile.knowledge.metrics import SourceNames
from adaptfile.profile.examples import ExamplesScan, profile_examples, read_examples, scan_examples
from adaptfile.profile.formats import FORMATS, Example, detect, normalize
from adaptfile.profile.knowledge import profile_knowledge, profile_knowledge_files
from adaptfile.profile.model import DataProfile, ExamplesProfile, KnowledgeProfile, RowIssue
from adaptfile.profile.text import estimate_tokens

if TYPE_CHECKING:
    from pathlib import Path

    from adaptfile.config.load import Project
    from adaptfile.config.model import ExamplesConfig

__all__ = [
    "FORMATS",
    "DataProfile",
    "Example",
    "ExamplesProfile",
    "KnowledgeProfile",
    "RowIssue",
    "detect",
    "estimate_tokens",
    "normalize",
    "profile_data",
    "profile_examples",
    "profile_knowledge",
    "read_examples",
]


def profile_data(project: Project) -> DataProfile:
    """Profile [data.knowledge], [data.examples] and [data.eval]; one ConfigError lists every problem."""
    data, root = project.config.data, project.root
    errors: list[ConfigError] = []
    knowledge = examples = evaluation = None
    documents: list[str] = []
    if data.knowledge is not None:
        try:
            knowledge, documents = profile_knowledge_files(root, data.knowledge)
        except ConfigError as err:
            errors.append(err)
    if data.examples is not None:
        examples = _scan(root, data.examples, "data.examples", errors)
    if data.eval is not None:
        evaluation = _scan(root, data.eval, "data.eval", errors)
    template = project.config.icl.template
    if template and not (root / template).is_file():
        errors.append(
            ConfigError(
                f"icl.template: {template}: no such file under {root}",
                hint="fix icl.template (relative to the directory holding adapt.toml), "
                "or remove it to use the shipped template",
            )
        )
    if errors:
        raise _combine(errors)
    overlap = len(examples.inputs & evaluation.inputs) if examples and evaluation else 0
    unknown: dict[str, int] = {}
    unknown_eval: dict[str, int] = {}
    if documents and ((examples and examples.sources) or (evaluation and evaluation.sources)):
        names = SourceNames(documents)
        unknown = _unknown_sources(examples, names)
        unknown_eval = _unknown_sources(evaluation, names)
    return DataProfile(
        knowledge=knowledge,
        examples=examples.profile if examples else None,
        eval=evaluation.profile if evaluation else None,
        eval_overlap=overlap,
        unknown_sources=unknown,
        unknown_eval_sources=unknown_eval,
    )


def _unknown_sources(scan: ExamplesScan | None, names: SourceNames) -> dict[str, int]:
    """source -> rows, for the sources of `scan` that name no file of the corpus."""
    sources = scan.sources if scan else {}
    return {s: n for s, n in sorted(sources.items()) if s not in names}


def _scan(root: Path, config: ExamplesConfig, key: str, errors: list[ConfigError]) -> ExamplesScan | None:
    try:
        return scan_examples(root, config, key)
    except ConfigError as err:
        errors.append(err)
        return None


def _combine(errors: list[ConfigError]) -> ConfigError:
    if len(errors) == 1:
        return errors[0]
    message = f"{len(errors)} problems with the data files:\n" + "\n".join(f"- {e.message}" for e in errors)
    hint = "; ".join(e.hint for e in errors if e.hint)
    return ConfigError(message, hint=hint or None)
