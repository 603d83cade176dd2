"""Load a task's Jinja2 prompt template (project override or shipped) and render it, sandboxed and strict."""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from adaptfile.errors import ConfigError
from adaptfile.prompt.shipped import shipped_template

TASKS: tuple[str, ...] = ("qa", "classify", "extract", "summarize", "chat", "generate")


class TemplateError(ConfigError):
    """A prompt template that cannot be read, parsed or rendered; the message names file and line."""


class TemplateSecurityError(TemplateError):
    """A template tried to reach Python internals (`__class__`, `mro`, unsafe methods): the sandbox refused."""


@dataclass(frozen=True)
class Shot:
    """One demonstration: what the user asked and what the model answered (and its label, if any)."""

    input: str
    output: str
    label: str | None = None


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk of a knowledge document; `path:start-end` is its citation."""

    path: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PromptTemplate:
    """A compiled template, its source text, and the name errors use (a project path or `shipped:qa.j2`)."""

    name: str
    source: str
    path: Path
    shipped: bool
    compiled: jinja2.Template = field(repr=False, compare=False)

    def render(self, **variables: Any) -> str:
        """The template's text for `variables`; TemplateError names the file and line of a failure."""
        try:
            return self.compiled.render(**variables)
        except SecurityError as err:
            line = _template_line(err, self.name)
            raise TemplateSecurityError(
                f"{self.name}{line}: security error: {err}",
                hint="templates run sandboxed: use only the variables instruction, shots, context and question",
            ) from None
        except jinja2.UndefinedError as err:
            line = _template_line(err, self.name)
            raise TemplateError(
                f"{self.name}{line}: {err}",
                hint="the variables are instruction, shots [{input, output, label}], "
                "context [{path, start, end, text}] and question; test optional ones with `is defined`",
            ) from None
        except jinja2.TemplateError as err:
            line = _template_line(err, self.name)
            raise TemplateError(f"{self.name}{line}: {err}", hint="fix the template") from None


def load_template(root: Path, task: str, template: str | None) -> PromptTemplate:
    """`icl.template`, else the project's templates/<task>.j2, else the shipped one; sandboxed, StrictUndefined."""
    if template:
        path = root / template
        if not path.is_file():
            raise TemplateError(
                f"icl.template: {template}: no such file under {root}",
                hint=f"fix icl.template (relative to adapt.toml), or remove it to use templates/{task}.j2",
            )
        return compile_template(path.read_text(encoding="utf-8"), Path(template).as_posix(), path)
    if task not in TASKS:
        raise TemplateError(f"unknown task {task!r}", hint=f"project.task is one of {', '.join(TASKS)}")
    local = root / "templates" / f"{task}.j2"
    if local.is_file():
        return compile_template(local.read_text(encoding="utf-8"), f"templates/{task}.j2", local)
    path = shipped_template(task)
    return compile_template(path.read_text(encoding="utf-8"), f"shipped:{task}.j2", path, shipped=True)


def compile_template(
    source: str, name: str, path: Path | None = None, shipped: bool = False
) -> PromptTemplate:
    """Compile template text in the sandbox; a syntax error names `name` and the line."""
    env = _environment(jinja2.FunctionLoader(lambda _: (source, name, lambda: True)))
    try:
        compiled = env.get_template(name)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(
            f"{name}:{err.lineno}: template syntax error: {err.message}", hint="fix the Jinja2 syntax"
        ) from None
    return PromptTemplate(name, source, path or Path(name), shipped, compiled)


def template_variables(
    instruction: str, shots: Sequence[Shot], context: Sequence[Passage], question: str
) -> dict[str, Any]:
    """The variables every template sees."""
    return {"instruction": instruction, "shots": list(shots), "context": list(context), "question": question}


def _environment(loader: jinja2.BaseLoader) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, cache_size=0, auto_reload=False
    )


def _template_line(err: BaseException, name: str) -> str:
    """':N' for the deepest traceback frame that runs the template `name` (Jinja maps it to template lines)."""
    line = getattr(err, "lineno", None)
    tb: types.TracebackType | None = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line else ""
