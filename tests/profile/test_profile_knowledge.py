"""The knowledge corpus: globs, counts, types, skipped files, token estimates, sampling speed."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adaptfile.config import Project
from adaptfile.errors import ConfigError
from adaptfile.profile import profile_data
from adaptfile.profile.knowledge import profile_knowledge

WORDS = "the router keeps its settings after a reset unless you hold the button for ten seconds "

ProjectMaker = Callable[..., Project]


def jsonl(*records: Any) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def _knowledge(project: ProjectMaker, paths: str, files: dict[str, str | bytes], extra: str = ""):
    return profile_data(project(f"[data.knowledge]\npaths = {paths}\n{extra}", files)).knowledge


def _pdf(text: str) -> bytes:
    stream = zlib.compress(f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode("latin-1"))
    head = b"%PDF-1.4\n1 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\n"
    return head + b"stream\n" + stream + b"\nendstream\nendobj\n%%EOF\n"


def test_counts_types_and_skipped_files_in_sorted_order(project: ProjectMaker) -> None:
    files: dict[str, str | bytes] = {
        "docs/b.md": WORDS,
        "docs/a.txt": WORDS,
        "docs/deep/er/c.rst": WORDS,
        "docs/logo.png": b"\x89PNG....",
        "docs/page.html": f"<html><style>p {{}}</style><p>{WORDS}</p><script>x()</script></html>",
        "notes.md": WORDS,
        "docs/.hidden.md": WORDS,
    }
    prof = _knowledge(project, '["docs/**/*", "docs/*.md", "notes.md"]', files)
    assert prof.files == 5
    assert prof.by_type == {"html": 1, "md": 2, "rst": 1, "txt": 1}
    assert list(prof.by_type) == sorted(prof.by_type)
    assert prof.skipped == {"docs/logo.png": "unsupported file type .png"}
    matched = ("docs/b.md", "docs/a.txt", "docs/deep/er/c.rst", "docs/page.html", "notes.md")
    assert prof.bytes == sum(len(str(files[name]).encode()) for name in matched)  # not docs/.hidden.md
    per_doc = len(WORDS.strip()) // 4 + 1
    assert prof.tokens == 5 * per_doc  # html tags, scripts and styles do not count


def test_double_star_matches_any_depth(project: ProjectMaker) -> None:
    files = {"a.md": "x", "d/b.md": "x", "d/e/f/c.md": "x", "d/e/f/c.txt": "x"}
    assert _knowledge(project, '["**/*.md"]', files).files == 3


def test_json_and_jsonl_count_only_the_text_field(project: ProjectMaker) -> None:
    files = {
        "kb/a.jsonl": jsonl({"body": "x" * 400, "id": "y" * 4000}, {"body": "z" * 400}),
        "kb/b.json": json.dumps({"articles": [{"body": "w" * 800, "meta": {"body": "v" * 400}}]}),
    }
    prof = _knowledge(project, '["kb/*"]', files, 'text_field = "body"')
    assert prof.by_type == {"json": 1, "jsonl": 1}
    assert prof.tokens == 201 + 301  # jsonl: (400 + 1 + 400) / 4; json, any depth: (800 + 1 + 400) / 4
    with pytest.raises(ConfigError) as caught:
        _knowledge(project, '["kb/*.jsonl"]', files)
    assert (
        caught.value.message == "data.knowledge.text_field: kb/a.jsonl: no record has a string field 'text'"
    )


def test_pdf_text_is_extracted_from_compressed_streams(project: ProjectMaker) -> None:
    prof = _knowledge(project, '["*.pdf"]', {"manual.pdf": _pdf("x" * 400)})
    assert (prof.files, prof.by_type, prof.tokens) == (1, {"pdf": 1}, 100)


def test_a_pattern_matching_nothing_is_a_config_error(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError) as caught:
        _knowledge(project, '["docs/*.md", "wiki/**/*.md"]', {"docs/a.md": "x"})
    assert caught.value.message.startswith("data.knowledge.paths[1]: 'wiki/**/*.md' matches no files under ")
    assert "relative to the directory holding adapt.toml" in caught.value.hint


def test_a_pattern_matching_only_directories_suggests_a_fix(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError) as caught:
        _knowledge(project, '["docs"]', {"docs/a.md": "x"})
    assert "matches only directories" in caught.value.message
    assert "'docs/**/*.md'" in caught.value.hint


def test_only_unsupported_files_is_a_config_error(project: ProjectMaker) -> None:
    with pytest.raises(
        ConfigError,
        match=r"match 2 file\(s\) but none is a readable document: a.docx \(unsupported file type .docx\), b.png",
    ):
        _knowledge(project, '["*.docx", "*.png"]', {"a.docx": b"PK", "b.png": b"x"})


def test_token_estimate_is_about_four_characters_per_token(project: ProjectMaker) -> None:
    text = (WORDS * 100).replace("reset ", "reset\n\n   ")
    prof = _knowledge(project, '["a.md"]', {"a.md": text})
    assert prof.tokens == pytest.approx(len(WORDS) * 100 / 4, rel=0.02)


def _corpus(root: Path, total_bytes: int, file_bytes: int) -> None:
    line = (WORDS * 2).strip() + "\n"
    body = line * (file_bytes // len(line))
    for i in range(total_bytes // len(body)):
        folder = root / "docs" / f"part{i % 20:02}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i:05}.md").write_text(body)


def _timed_profile(tmp_path: Path, total_bytes: int) -> tuple[float, int, int]:
    _corpus(tmp_path, total_bytes, file_bytes=20_000)
    (tmp_path / "big.txt").write_text((WORDS + "\n") * (5_000_000 // len(WORDS)))
    from adaptfile.config.model import KnowledgeConfig

    config = KnowledgeConfig(paths=["docs/**/*.md", "*.txt"])
    start = time.perf_counter()
    prof = profile_knowledge(tmp_path, config)
    elapsed = time.perf_counter() - start
    return elapsed, prof.bytes, prof.tokens


def test_ten_megabyte_corpus_profiles_quickly_and_sampling_stays_close(tmp_path: Path) -> None:
    elapsed, size, tokens = _timed_profile(tmp_path, 10_000_000)
    assert elapsed < 2.0
    assert size > 14_000_000
    assert tokens == pytest.approx(size / 4, rel=0.05)  # squeezed prose: ~4 chars per token


@pytest.mark.slow
def test_hundred_megabyte_corpus_profiles_in_well_under_a_few_seconds(tmp_path: Path) -> None:
    elapsed, size, tokens = _timed_profile(tmp_path, 100_000_000)
    assert elapsed < 3.0
    assert size > 100_000_000
    assert tokens == pytest.approx(size / 4, rel=0.05)


def test_text_without_an_extension_is_read_and_binary_without_one_is_skipped_with_why(
    project: ProjectMaker,
) -> None:
    files: dict[str, str | bytes] = {
        "pkg/README": WORDS,
        "pkg/LICENSE": "Permission is hereby granted, free of charge.\n",
        "pkg/CHANGELOG": WORDS,
        "pkg/core": b"\x7fELF\x02\x01\x01\x00" + bytes(200),
        "pkg/logo.png": b"\x89PNG....",
        "pkg/guide.md": WORDS,
    }
    prof = _knowledge(project, '["pkg/*"]', files)
    assert prof.by_type == {"md": 1, "text (no extension)": 3}
    assert prof.skipped == {"pkg/core": "no extension and binary file (NUL bytes), not text",
                            "pkg/logo.png": "unsupported file type .png"}  # fmt: skip
