"""Keys and the stat cache: canonical, path-free, and no hashing of unchanged files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from adaptfile.engine.keys import canonical_json, key_parts, step_key
from adaptfile.engine.state import State


def test_canonical_json_ignores_key_order() -> None:
    assert (
        canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1}) == b'{"a":[1,2],"b":1}'
    )


def test_key_changes_with_each_part() -> None:
    base = key_parts("k", "1", {"lora.r": 8}, {"docs/a.md": "d1"}, {"up": {"out": "x"}}, {"torch": "2"})
    variants = [
        key_parts("k2", "1", {"lora.r": 8}, {"docs/a.md": "d1"}, {"up": {"out": "x"}}, {"torch": "2"}),
        key_parts("k", "2", {"lora.r": 8}, {"docs/a.md": "d1"}, {"up": {"out": "x"}}, {"torch": "2"}),
        key_parts("k", "1", {"lora.r": 16}, {"docs/a.md": "d1"}, {"up": {"out": "x"}}, {"torch": "2"}),
        key_parts("k", "1", {"lora.r": 8}, {"docs/b.md": "d1"}, {"up": {"out": "x"}}, {"torch": "2"}),
        key_parts("k", "1", {"lora.r": 8}, {"docs/a.md": "d1"}, {"up": {"out": "y"}}, {"torch": "2"}),
        key_parts("k", "1", {"lora.r": 8}, {"docs/a.md": "d1"}, {"up": {"out": "x"}}, {"torch": "3"}),
    ]
    keys = {step_key(p) for p in [base, *variants]}
    assert len(keys) == 7


def _state(tmp_path: Path) -> State:
    return State(tmp_path / ".adapt" / "state")


def test_stat_cache_hashes_a_file_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    old = time.time_ns() - 10 * 10**9
    os.utime(tmp_path / "a.txt", ns=(old, old))
    state = _state(tmp_path)
    first = state.digests(tmp_path, ["a.txt"])
    state.close()
    again = _state(tmp_path)
    assert again.digests(tmp_path, ["a.txt"]) == first
    assert again.hashed == 0


def test_same_tick_edit_is_rehashed(tmp_path: Path) -> None:
    """A file hashed within its timestamp tick may change again without a new mtime: distrust it."""
    path = tmp_path / "a.txt"
    path.write_text("one")
    future = time.time_ns() + 5 * 10**9  # mtime not safely in the past at hashing time
    os.utime(path, ns=(future, future))
    state = _state(tmp_path)
    assert state.digests(tmp_path, ["a.txt"])["a.txt"]
    state.flush()
    assert state.digests(tmp_path, ["a.txt"])
    assert state.hashed == 2


def test_content_change_with_same_size_and_mtime_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one")
    old = time.time_ns() - 10 * 10**9
    os.utime(path, ns=(old, old))
    state = _state(tmp_path)
    before = state.digests(tmp_path, ["a.txt"])["a.txt"]
    path.write_text("two")
    os.utime(path, ns=(old, old))  # same size, same mtime: the ctime still moves
    assert state.digests(tmp_path, ["a.txt"])["a.txt"] != before


def test_inputs_outside_the_project_are_named_without_absolute_paths(tmp_path: Path) -> None:
    from adaptfile.engine.inputs import expand_inputs

    root = tmp_path / "proj"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("a")
    model = tmp_path / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    found = expand_inputs(root, ["docs/*.md", f"{model}/**", "docs"], "s")
    assert found["@tiny/config.json"] == str(model / "config.json")
    assert found["docs/a.md"] == "docs/a.md"
    assert not any(name.startswith("/") for name in found)


def test_a_changed_table_param_names_the_leaf_that_changed() -> None:
    from adaptfile.engine.freshness import explain

    parts = {"kind": "k", "kind_version": "1", "packages": {}, "inputs": {}, "upstream": {}}
    before = {**parts, "params": {"eval.estimates": {"lora": {"tokens": 440, "hours": 1}}}}
    now = {**parts, "params": {"eval.estimates": {"lora": {"tokens": 450, "hours": 1}}}}
    assert explain(before, now) == ["params changed: eval.estimates.lora.tokens 440→450"]
