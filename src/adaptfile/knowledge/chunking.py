"""Chunks sized to the embedder's window, cut only between whole sentences, lines, code blocks or words; exact spans."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from adaptfile.knowledge.documents import SourceDocument

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

EMBED_METADATA = ("title",)  # the only metadata embedded with a chunk: no paths, no timestamps


def default_chunk_size(window: int) -> int:
    """Chunk tokens for an embedder reading `window` tokens: 7/8 of it (room for a title line)."""
    return window * 7 // 8


def default_chunk_overlap(chunk_size: int) -> int:
    return chunk_size // 8


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`; cite it as `path:start-end`."""

    path: str
    start: int
    end: int
    text: str
    title: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"

    @property
    def citation(self) -> str:
        return self.id

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self)}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Chunk:
        return cls(row["path"], row["start"], row["end"], row["text"], row.get("title"))

    def to_node(self) -> TextNode:
        """The llama-index node: embedded content is the title (when known) and the text, nothing else."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        metadata: dict[str, Any] = {"path": self.path, "start": self.start, "end": self.end}
        if self.title:
            metadata["title"] = self.title
        hidden = [key for key in metadata if key not in EMBED_METADATA]
        return TextNode(
            id_=self.id,
            text=self.text,
            metadata=metadata,
            excluded_embed_metadata_keys=hidden,
            excluded_llm_metadata_keys=hidden,
            start_char_idx=self.start,
            end_char_idx=self.end,
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=self.path)},
        )

    def embed_text(self) -> str:
        """Exactly what the embedder sees (llama-index's MetadataMode.EMBED rendering)."""
        if not self.title:
            return self.text
        return f"title: {self.title}\n\n{self.text}"


def chunk_documents(
    documents: Iterable[SourceDocument],
    chunk_size: int,
    chunk_overlap: int,
    tokenize: Callable[[str], list[Any]],
) -> list[Chunk]:
    """Every document's chunks, in order (see `iter_chunks`)."""
    return list(iter_chunks(documents, chunk_size, chunk_overlap, tokenize))


def iter_chunks(
    documents: Iterable[SourceDocument],
    chunk_size: int,
    chunk_overlap: int,
    tokenize: Callable[[str], list[Any]],
) -> Iterator[Chunk]:
    """Chunks of at most `chunk_size` tokens (title line included), sharing up to `chunk_overlap` tokens.

    Hand-written rather than llama-index's SentenceSplitter: its fallback splits (the phrase regex
    `[^,.;]+[,.;]?`, then single characters) cut inside `./configure`, `v1.2.3` and URLs, it knows
    nothing of Markdown code fences or headings, and it strips and rejoins text so spans must be
    searched for afterwards. Here a document becomes atoms with exact spans (code fences, headings,
    paragraphs; too-long ones split at sentences from llama-index's own punkt tokenizer, then line ends,
    then spaces outside code spans) and chunks are runs of whole atoms, so a boundary always falls on
    whitespace and every span is exact by construction.
    """
    for doc in documents:
        count = _Counter(tokenize)
        title = count(Chunk(doc.path, 0, 0, "", doc.title).embed_text()) if doc.title else 0
        budget = max(chunk_size - title, chunk_size // 4, 1)
        atoms = _atoms(doc.text, budget, count)
        for start, end in _pack(atoms, budget, min(chunk_overlap, budget - 1)):
            yield Chunk(doc.path, start, end, doc.text[start:end], doc.title)


@dataclass(frozen=True)
class _Atom:
    """A span no chunk boundary may fall inside; `heading` marks a Markdown heading line."""

    start: int
    end: int
    tokens: int
    heading: bool = False


class _Counter:
    def __init__(self, tokenize: Callable[[str], list[Any]]) -> None:
        self.tokenize = tokenize

    def __call__(self, text: str) -> int:
        return len(self.tokenize(text))


def _atoms(text: str, budget: int, count: _Counter) -> list[_Atom]:
    """The document as atoms of at most `budget` tokens each (a word longer than that is cut by tokens)."""
    atoms: list[_Atom] = []
    for start, end, kind in _blocks(text):
        tokens = count(text[start:end])
        if tokens <= budget:
            atoms.append(_Atom(start, end, tokens, kind == "heading"))
            continue
        levels = _FENCE_LEVELS if kind == "fence" else _PROSE_LEVELS
        protected = [] if kind == "fence" else _code_spans(text, start, end)
        atoms += _split(text, start, end, budget, count, levels, protected)
    return atoms


def _blocks(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of fenced code blocks, heading lines and paragraphs, stripped of outer whitespace."""
    blocks: list[tuple[int, int, str]] = []
    para: int | None = None
    fence: tuple[int, str] | None = None  # start offset and marker of an open code fence
    offset = 0
    last = 0
    for line in text.splitlines(keepends=True):
        end = offset + len(line.rstrip("\r\n"))
        if fence is not None:
            if _closes(line, fence[1]):
                blocks.append((fence[0], end, "fence"))
                fence = None
        elif opening := _FENCE.match(line):
            if para is not None:
                blocks.append((para, last, "para"))
                para = None
            fence = (offset, opening.group(1))
        elif _HEADING.match(line):
            if para is not None:
                blocks.append((para, last, "para"))
                para = None
            blocks.append((offset, end, "heading"))
        elif not line.strip():
            if para is not None:
                blocks.append((para, last, "para"))
                para = None
        elif para is None:
            para = offset
        if line.strip():
            last = end
        offset += len(line)
    if fence is not None:  # an unclosed fence runs to the end of the document
        blocks.append((fence[0], len(text.rstrip()), "fence"))
    elif para is not None:
        blocks.append((para, last, "para"))
    stripped = [(*_strip(text, start, end), kind) for start, end, kind in blocks]
    return [(start, end, kind) for start, end, kind in stripped if end > start]


def _closes(line: str, marker: str) -> bool:
    """Whether `line` closes a fence opened with `marker` (same character, at least as long, nothing after)."""
    closing = _FENCE.match(line)
    return bool(
        closing
        and closing.group(1)[0] == marker[0]
        and len(closing.group(1)) >= len(marker)
        and not line[closing.end() :].strip()
    )


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def _code_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in _CODE_SPAN.finditer(text[start:end])]


def _sentence_cuts(text: str, start: int, end: int) -> list[int]:
    """Sentence starts from the punkt tokenizer llama-index's SentenceSplitter uses."""
    from llama_index.core.utils import globals_helper

    return [start + s for s, _ in globals_helper.punkt_tokenizer.span_tokenize(text[start:end])][1:]


def _line_cuts(text: str, start: int, end: int) -> list[int]:
    return [start + m.end() for m in re.finditer(r"\n", text[start:end])]


def _space_cuts(text: str, start: int, end: int) -> list[int]:
    return [start + m.end() for m in re.finditer(r"\s+", text[start:end])]


_PROSE_LEVELS = (_sentence_cuts, _line_cuts, _space_cuts)
_FENCE_LEVELS = (_line_cuts, _space_cuts)


def _split(
    text: str,
    start: int,
    end: int,
    budget: int,
    count: _Counter,
    levels: tuple[Callable[[str, int, int], list[int]], ...],
    protected: list[tuple[int, int]],
) -> list[_Atom]:
    """Atoms of text[start:end] cut at the first level's boundaries, finer levels for pieces still too long."""
    cuts = [
        cut
        for cut in levels[0](text, start, end)
        if text[cut - 1].isspace() and not any(s < cut < e for s, e in protected)
    ]
    atoms: list[_Atom] = []
    for left, right in itertools.pairwise([start, *cuts, end]):
        s, e = _strip(text, left, right)
        if e <= s:
            continue
        tokens = count(text[s:e])
        if tokens <= budget:
            atoms.append(_Atom(s, e, tokens))
        else:
            inner = [span for span in protected if s <= span[0] and span[1] <= e]
            if len(levels) > 1:
                atoms += _split(text, s, e, budget, count, levels[1:], inner)
            elif inner:  # a code span longer than a chunk: split it at its spaces too
                atoms += _split(text, s, e, budget, count, levels, [])
            else:
                atoms += _cut_by_tokens(text, s, e, budget, count)
    return atoms


def _cut_by_tokens(text: str, start: int, end: int, budget: int, count: _Counter) -> list[_Atom]:
    """Last resort for one whitespace-free run longer than a chunk: the longest prefixes that fit."""
    atoms: list[_Atom] = []
    while start < end:
        lo, hi = start + 1, end
        while lo < hi:  # the longest prefix within budget
            mid = (lo + hi + 1) // 2
            if count(text[start:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        atoms.append(_Atom(start, lo, count(text[start:lo])))
        start = lo
    return atoms


def _pack(atoms: list[_Atom], budget: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Spans of consecutive whole atoms within `budget`; a heading starts a chunk unless its section fits.

    The next chunk starts with the last atoms of the previous one (up to `overlap` tokens), never
    reaching back across a heading.
    """
    section = _section_tokens(atoms)
    i = 0
    while i < len(atoms):
        j, used = i, 0
        while j < len(atoms) and used + atoms[j].tokens <= budget:
            if j > i and atoms[j].heading and used + section[j] > budget:
                break
            used += atoms[j].tokens
            j += 1
        j = max(j, i + 1)
        yield atoms[i].start, atoms[j - 1].end
        if j == len(atoms):
            return
        k, shared = j, 0
        while (
            k - 1 > i
            and not atoms[k].heading
            and shared + atoms[k - 1].tokens <= overlap
            and shared + atoms[k - 1].tokens + atoms[j].tokens <= budget
        ):
            k -= 1
            shared += atoms[k].tokens
        i = k


def _section_tokens(atoms: list[_Atom]) -> list[int]:
    """For each heading atom, the tokens from it to the next heading (0 elsewhere)."""
    totals = [0] * len(atoms)
    running = 0
    for index in range(len(atoms) - 1, -1, -1):
        running += atoms[index].tokens
        if atoms[index].heading:
            totals[index] = running
            running = 0
    return totals


_FENCE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|\r?\n|$)")
_CODE_SPAN = re.compile(r"(`+)(?!`)[\s\S]+?(?<!`)\1(?!`)")
