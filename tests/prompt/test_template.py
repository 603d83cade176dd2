"""Template loading (project override, icl.template, shipped), sandboxing, StrictUndefined, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptfile.prompt import Passage, Shot, TemplateError, TemplateSecurityError, load_template
from adaptfile.prompt.shipped import shipped_template
from adaptfile.prompt.template import TASKS

VARS = {"instruction": "Be brief.", "shots": [Shot("2+2?", "4")], "context": [], "question": "3+3?"}


@pytest.mark.parametrize("task", TASKS)
def test_every_task_ships_a_template_that_renders(tmp_path: Path, task: str) -> None:
    template = load_template(tmp_path, task, None)
    assert template.shipped and template.name == f"shipped:{task}.j2"
    text = template.render(**VARS | {"context": [Passage("docs/a.md", 0, 5, "Hello")]})
    assert "2+2?" not in text  # shots are turns of their own, never inside the template's text
    assert text.rstrip().splitlines()[-2].endswith("3+3?") and "Hello\n\n" + text.splitlines()[-2] in text
    assert "[docs/a.md:0-5]" in text
    assert shipped_template(task).is_file()


def test_project_template_overrides_the_shipped_one(tree) -> None:
    root = tree({"templates/qa.j2": "Q={{ question }}"})
    template = load_template(root, "qa", None)
    assert template.name == "templates/qa.j2" and not template.shipped
    assert template.render(**VARS) == "Q=3+3?"


def test_icl_template_wins_over_both(tree) -> None:
    root = tree({"templates/qa.j2": "local", "prompts/mine.j2": "mine {{ question }}"})
    assert load_template(root, "qa", "prompts/mine.j2").render(**VARS) == "mine 3+3?"


def test_missing_icl_template_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"icl\.template: nope\.j2"):
        load_template(tmp_path, "qa", "nope.j2")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ question.__class__ }}",
        "{{ shots.__len__() }}",
        "{{ shots.append(1) }}",
    ],
)
def test_sandbox_refuses_internals(tree, source: str) -> None:
    root = tree({"templates/qa.j2": "line one\n" + source})
    with pytest.raises(TemplateSecurityError, match=r"templates/qa.j2:2: security error"):
        load_template(root, "qa", None).render(**VARS)


def test_strict_undefined_names_file_and_line(tree) -> None:
    root = tree({"templates/qa.j2": "a\nb\n{{ questoin }}\n"})
    with pytest.raises(TemplateError, match=r"templates/qa.j2:3: 'questoin' is undefined"):
        load_template(root, "qa", None).render(**VARS)


def test_undefined_attribute_of_a_shot_fails(tree) -> None:
    root = tree({"templates/qa.j2": "{% for s in shots %}{{ s.answer }}{% endfor %}"})
    with pytest.raises(TemplateError, match=r"templates/qa\.j2:1"):
        load_template(root, "qa", None).render(**VARS)


def test_syntax_error_names_file_and_line(tree) -> None:
    root = tree({"templates/qa.j2": "ok\n{% for x in %}\n"})
    with pytest.raises(TemplateError, match=r"templates/qa.j2:2: template syntax error"):
        load_template(root, "qa", None)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first = load_template(tmp_path, "classify", None).render(**VARS)
    assert all(load_template(tmp_path, "classify", None).render(**VARS) == first for _ in range(3))
