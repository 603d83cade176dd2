"""Token estimates are reused while a knowledge file's stat is unchanged: a no-op plan reads no document."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

import adaptfile.profile.knowledge as knowledge
from adaptfile.config import Project
from adaptfile.profile.knowledge import profile_knowledge
from adaptfile.profile.model import KnowledgeProfile
from adaptfile.profile.token_cache import CACHE

WORDS = "hold the reset button for ten seconds to restore the factory settings "
FILES = {f"docs/{d}/page{i}.md": WORDS * (i + 1) for d in ("a", "b") for i in range(5)}
TABLE = '[data.knowledge]\npaths = ["docs/**/*.md"]\n'


def aged(project: Project, seconds: float = 60) -> None:
    """Date every document `seconds` back: older than the same-tick window, so estimates are kept."""
    past = time.time() - seconds
    for rel in FILES:
        os.utime(project.root / rel, (past, past))


def profile(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[KnowledgeProfile, list[str]]:
    """The knowledge profile and the files whose text it read to get it."""
    read: list[str] = []
    real = knowledge._estimate_file

    def counting(kind, item, limit, text_field):  # type: ignore[no-untyped-def]
        read.append(item.rel)
        return real(kind, item, limit, text_field)

    monkeypatch.setattr(knowledge, "_estimate_file", counting)
    assert project.config.data.knowledge is not None
    return profile_knowledge(project.root, project.config.data.knowledge), read


@pytest.fixture
def built(project: Callable[..., Project]) -> Project:
    """A project that has been built once (it has .adapt/), its documents a minute old."""
    made = project(TABLE, FILES)
    (made.root / ".adapt").mkdir()
    aged(made)
    return made


def test_unchanged_files_are_not_read_again(built: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    first, read = profile(built, monkeypatch)
    assert sorted(read) == sorted(FILES)
    again, read = profile(built, monkeypatch)
    assert read == [] and again == first


def test_a_changed_file_is_read_again_and_counted_anew(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = profile(built, monkeypatch)
    changed = built.root / "docs/a/page0.md"
    changed.write_text(WORDS * 40)
    past = time.time() - 30
    os.utime(changed, (past, past))
    second, read = profile(built, monkeypatch)
    assert read == ["docs/a/page0.md"]
    assert second.tokens > first.tokens


def test_a_file_written_within_the_same_tick_window_is_read_every_time(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (built.root / "docs/a/page1.md").write_text(WORDS * 3)  # mtime now: a second write could keep it
    profile(built, monkeypatch)
    _, read = profile(built, monkeypatch)
    assert read == ["docs/a/page1.md"]


def test_planning_a_project_never_built_writes_nothing(
    project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = project(TABLE, FILES)
    aged(fresh)
    profile(fresh, monkeypatch)
    _, read = profile(fresh, monkeypatch)
    assert len(read) == len(FILES)
    assert not (fresh.root / ".adapt").exists()


@pytest.mark.parametrize("content", [b"{not json", b'{"version": 0, "files": {}}', b"\x00\xff"])
def test_a_corrupt_or_old_cache_is_a_miss(
    built: Project, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    expected, _ = profile(built, monkeypatch)
    cache = built.root / CACHE
    cache.write_bytes(content)
    again, read = profile(built, monkeypatch)
    assert again == expected and len(read) == len(FILES)
    assert profile(built, monkeypatch)[1] == []  # rewritten


def test_a_file_removed_from_the_corpus_leaves_the_cache(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile(built, monkeypatch)
    (built.root / "docs/b/page4.md").unlink()
    profile(built, monkeypatch)
    assert "docs/b/page4.md" not in (built.root / CACHE).read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_made_unreadable_is_skipped_though_its_estimate_is_cached(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile(built, monkeypatch)
    locked = built.root / "docs/b/page2.md"
    locked.chmod(0)
    try:
        result, _ = profile(built, monkeypatch)
    finally:
        locked.chmod(0o644)
    assert result.skipped == ("docs/b/page2.md",)
