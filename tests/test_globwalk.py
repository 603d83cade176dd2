"""The scandir walk lists exactly what glob.glob(pattern, root_dir=root, recursive=True) lists."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from adaptfile.globwalk import GlobWalk

TREE = [
    "top.md",
    ".hidden.md",
    "notes.txt",
    "docs/a.md",
    "docs/b.MD",
    "docs/[x].md",
    "docs/.draft.md",
    "docs/guide/intro.md",
    "docs/guide/deep/er/deep.md",
    "docs/guide/deep/er/data.json",
    "docs/.private/secret.md",
    "docs/.private/sub/more.md",
    "build/out.md",
    ".git/HEAD.md",
    "other/x.txt",
]
PATTERNS = [
    "docs/**/*.md",
    "**/*.md",
    "**",
    "**/",
    "**/**/*.md",
    "docs/**",
    "docs/**/",
    "docs/*",
    "docs/*/",
    "docs//*.md",
    "docs/./*.md",
    "*/*.txt",
    "docs/.*",
    "docs/.private/*",
    "docs/.private/**/*.md",
    "**/.*",
    "docs/[ab].md",
    "docs/[[]x].md",
    "docs/?.md",
    "docs/**/deep/*/*.md",
    "d*/guide/deep",
    "d*/guide/deep/",
    "d*/**/er/deep.md",
    "docs/a.md",
    "docs/a.md/**",
    "docs/a.md/*",
    "docs/",
    "docs",
    "missing/**",
    "missing/*.md",
    "linked/**/*.md",
    "**/*.json",
    "*",
    "../*/docs/*.md",
    "",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("walk") / "project"
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    try:
        (root / "linked").symlink_to(root / "docs" / "guide", target_is_directory=True)
        (root / "docs" / "alias.md").symlink_to(root / "docs" / "a.md")
        (root / "docs" / "broken.md").symlink_to(root / "docs" / "gone.md")
    except OSError:
        pass  # no symlinks on this filesystem: the other cases still compare
    return root


@pytest.mark.parametrize("pattern", PATTERNS)
def test_walk_matches_glob(tree: Path, pattern: str) -> None:
    expected = glob.glob(pattern, root_dir=tree, recursive=True)
    assert sorted(GlobWalk(str(tree)).glob(pattern)) == sorted(expected)


def test_absolute_patterns_match_glob(tree: Path) -> None:
    for pattern in (f"{tree}/docs/**/*.md", f"{tree}/*.md", f"{tree}//docs/*", f"{tree}/docs/a.md"):
        assert sorted(GlobWalk(str(tree)).glob(pattern)) == sorted(
            glob.glob(pattern, root_dir=tree, recursive=True)
        ), pattern


def test_one_walk_serves_every_pattern_of_a_project(tree: Path) -> None:
    walk = GlobWalk(str(tree))  # listings are shared: later patterns reuse the directories read
    for pattern in ("docs/*.md", "docs/**/*.md", "**/*.md", "docs/guide/*"):
        assert sorted(walk.glob(pattern)) == sorted(glob.glob(pattern, root_dir=tree, recursive=True))
