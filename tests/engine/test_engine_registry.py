"""Kinds resolve lazily by name: built-in table, entry points, clear errors for missing ones."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from adaptfile.engine import build, registry
from adaptfile.engine.errors import UnknownStepKind
from adaptfile.plan.model import StepSpec


@pytest.fixture
def clean_registry():
    yield
    for name in ("test.builtin", "test.plugin", "test.broken"):
        registry.unregister(name)


def test_builtin_table_is_imported_lazily(monkeypatch, clean_registry) -> None:
    monkeypatch.setitem(registry.BUILTIN_KINDS, "test.builtin", "engine_kinds:Shout")
    kind = registry.resolve("test.builtin")
    assert kind.name == "test.shout" and kind.outputs == ("out.txt",)


def test_entry_point_group_provides_kinds(monkeypatch, clean_registry) -> None:
    point = EntryPoint("test.plugin", "engine_kinds:Shout", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        "importlib.metadata.entry_points", lambda group: [point] if group == point.group else []
    )
    assert registry.resolve("test.plugin").name == "test.shout"


def test_unloadable_target_is_a_plan_error(monkeypatch, clean_registry) -> None:
    monkeypatch.setitem(registry.BUILTIN_KINDS, "test.broken", "no_such_module:Thing")
    with pytest.raises(UnknownStepKind) as caught:
        registry.resolve("test.broken", "s1")
    assert caught.value.exit_code == 3 and "s1" in caught.value.message


def test_package_versions_enter_the_lock(project: Path) -> None:
    from importlib.metadata import version

    from engine_kinds import Shout

    registry.register(Shout())
    build(project, (StepSpec("shout", "test.shout"),))
    lock = json.loads((project / "adapt.lock").read_text())
    assert lock["steps"]["shout"]["packages"] == {"click": version("click")}
