"""Load knowledge files (md, txt, rst, html, pdf, json/jsonl, text without an extension) into documents keyed
by relative path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from adaptfile.errors import ConfigError

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | {".pdf"}
SNIFF_BYTES = 8192  # bytes that tell text from binary
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_RST_TITLE = re.compile(r"^(?:[=\-~#*^]{3,}\n)?(\S[^\n]{0,150})\n[=\-~#*^]{3,}\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SourceDocument:
    """One document: its id is its project-relative path; spans index into `text`."""

    path: str
    text: str
    title: str | None = None

    @property
    def id(self) -> str:
        return self.path

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadResult:
    """The documents read, in path order, and the files skipped with the reason for each."""

    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def warnings(self, shown: int = 3) -> list[str]:
        """One line naming the first `shown` skipped files with their reasons, and the count."""
        if not self.skipped:
            return []
        listed = ", ".join(f"{path} ({reason})" for path, reason in self.skipped[:shown])
        more = f" and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
        return [f"{len(self.skipped)} knowledge file(s) skipped: {listed}{more}"]


class Unreadable(Exception):
    """A file that holds no text we can read (binary, undecodable, unsupported type)."""


def load_documents(root: Path, files: Iterable[str], text_field: str = "text") -> LoadResult:
    """Read `files` (project-relative) under `root`. Unreadable files are skipped, each with its reason."""
    result = LoadResult()
    result.documents = list(iter_documents(root, files, text_field, result.skipped))
    return result


def iter_documents(
    root: Path,
    files: Iterable[str],
    text_field: str = "text",
    skipped: list[tuple[str, str]] | None = None,
) -> Iterator[SourceDocument]:
    """The documents of `files` in path order, read one at a time; each file skipped is appended to
    `skipped` with its reason."""
    skipped = skipped if skipped is not None else []
    for rel in sorted(set(files)):
        try:
            doc = read_document(root, rel, text_field)
        except Unreadable as why:
            skipped.append((rel, str(why)))
            continue
        if not doc.text.strip():
            skipped.append((rel, "empty"))
            continue
        yield doc


def require_files(files: Sequence[str], patterns: Sequence[str]) -> None:
    """A ConfigError when the knowledge globs matched nothing."""
    if not files:
        raise ConfigError(
            f"data.knowledge.paths {list(patterns)} matched no files",
            hint="check the globs (relative to adapt.toml; use ** for subdirectories, e.g. docs/**/*.md)",
        )


def read_document(root: Path, rel: str, text_field: str = "text") -> SourceDocument:
    """One file as a SourceDocument; raises Unreadable."""
    path = root / rel
    suffix = path.suffix.lower()
    if suffix and suffix not in SUPPORTED:  # no extension (README, LICENSE): text when it decodes as text
        raise Unreadable(f"unsupported file type {suffix}")
    if suffix == ".pdf":
        return _read_pdf(path, rel)
    text = decode(path.read_bytes())
    if suffix in HTML_SUFFIXES:
        return _read_html(text, rel)
    if suffix in RECORD_SUFFIXES:
        return SourceDocument(rel, _record_text(text, suffix, text_field, rel))
    return SourceDocument(rel, text, _title(text, suffix))


def decode(data: bytes) -> str:
    """UTF-8 (BOM dropped), else cp1252/latin-1 for 8-bit text; Unreadable for binary data."""
    if b"\x00" in data[:SNIFF_BYTES]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        raise Unreadable("binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if (
        sum(not (ch.isprintable() or ch.isspace()) for ch in text[:SNIFF_BYTES])
        > len(text[:SNIFF_BYTES]) // 20
    ):
        raise Unreadable("undecodable: neither UTF-8 nor 8-bit text")
    return text


def _title(text: str, suffix: str) -> str | None:
    head = text[:4096]
    if suffix in {".md", ".markdown"}:
        match = _MD_TITLE.search(head)
        return match.group(1).strip() if match else None
    if suffix == ".rst":
        match = _RST_TITLE.search(head)
        return match.group(1).strip() if match else None
    first, sep, _ = head.lstrip().partition("\n\n")  # plain text: a short first line standing alone
    if sep and "\n" not in first.strip() and 0 < len(first.strip()) <= 150:
        return first.strip()
    return None


def _record_text(text: str, suffix: str, text_field: str, rel: str) -> str:
    """The `text_field` of every record, joined by blank lines."""
    try:
        if suffix == ".json":
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as err:
        raise Unreadable(f"invalid JSON: {err}") from None
    texts = [r[text_field] for r in records if isinstance(r, dict) and isinstance(r.get(text_field), str)]
    if records and not texts:
        raise Unreadable(f"no record has a string field {text_field!r} (data.knowledge.text_field)")
    return "\n\n".join(texts)


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, block elements separated by blank lines, and its <title>."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre"}
    )
    HIDDEN = frozenset({"script", "style", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._in_title = tag == "title"
        self._hidden += tag in self.HIDDEN
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False
        self._hidden -= tag in self.HIDDEN and self._hidden > 0
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif not self._hidden:
            self.parts.append(data)


def _read_html(text: str, rel: str) -> SourceDocument:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    body = re.sub(r"\n\s*\n\s*", "\n\n", re.sub(r"[ \t]+", " ", "".join(parser.parts))).strip()
    return SourceDocument(rel, body, parser.title or None)


def _read_pdf(path: Path, rel: str) -> SourceDocument:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise Unreadable("reading PDF needs pypdf: pip install pypdf") from None
    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, OSError) as err:
        raise Unreadable(f"unreadable PDF: {err}") from None
    return SourceDocument(rel, "\n\n".join(p.strip() for p in pages).strip(), title or None)
