"""Sentence-aware chunks sized to the embedder's window, each with its source path and character span."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    """Split every document with llama-index's SentenceSplitter, counting tokens with the embedder's tokenizer."""
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size - 1),
        tokenizer=tokenize,
        include_prev_next_rel=False,
    )
    from llama_index.core.schema import MetadataMode

    chunks: list[Chunk] = []
    for doc in documents:
        whole = Chunk(doc.path, 0, len(doc.text), doc.text, doc.title).to_node()
        metadata = whole.get_metadata_str(mode=MetadataMode.EMBED)
        pieces = (
            splitter.split_text_metadata_aware(doc.text, metadata)
            if metadata
            else splitter.split_text(doc.text)
        )
        chunks.extend(_locate(doc, pieces))
    return chunks


def _locate(doc: SourceDocument, pieces: list[str]) -> list[Chunk]:
    """Character spans of consecutive pieces, searching forward so repeated text maps to the right place."""
    chunks: list[Chunk] = []
    cursor = 0
    for piece in pieces:
        start = doc.text.find(piece, cursor)
        if start < 0:  # the splitter normalised something: fall back to the first occurrence
            start = max(doc.text.find(piece), 0)
        end = start + len(piece)
        chunks.append(Chunk(doc.path, start, end, doc.text[start:end], doc.title))
        cursor = start + 1
    return chunks
