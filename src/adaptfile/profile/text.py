"""Plain text out of document bytes (md, txt, rst, html, pdf, json, jsonl) and the token estimate."""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
import zlib
from typing import Any

CHARS_PER_TOKEN = 4
TEXT_TYPES: frozenset[str] = frozenset(
    {"md", "markdown", "txt", "text", "rst", "html", "htm", "pdf", "json", "jsonl", "ndjson"}
)

_SCRIPT = re.compile(rb"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]*>")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_PDF_TEXT = re.compile(rb"\((?:[^()\\]|\\.)*\)|<[0-9A-Fa-f\s]+>")


def estimate_tokens(text: str) -> int:
    """About one token per four characters (English prose with a BPE tokenizer)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def squeeze(text: str) -> str:
    """Collapse runs of whitespace to single spaces: layout is not tokens."""
    return " ".join(text.split())


def extract_text(kind: str, data: bytes, text_field: str = "text", complete: bool = True) -> str:
    """The readable text of a file of type `kind` (extension, no dot); `data` may be a prefix."""
    if kind in ("html", "htm"):
        import html  # here: its entity table is large and most corpora (and every no-op) skip it

        stripped = _TAG.sub(b" ", _SCRIPT.sub(b" ", data))
        return squeeze(html.unescape(stripped.decode("utf-8", "ignore")))
    if kind == "pdf":
        return squeeze(_pdf_text(data))
    if kind in ("json", "jsonl", "ndjson"):
        return squeeze(" ".join(json_texts(kind, data, text_field, complete)))
    return squeeze(data.decode("utf-8", "ignore"))


def json_texts(kind: str, data: bytes, text_field: str, complete: bool = True) -> list[str]:
    """The `text_field` strings of the records in a JSON or JSON Lines document (or its prefix)."""
    text = data.decode("utf-8-sig", "ignore")
    if kind == "json" and complete:
        try:
            return list(_field_values(json.loads(text), text_field))
        except ValueError:
            pass  # not one JSON document: maybe JSON Lines named .json; fall through
    lines = text.split("\n")
    if not complete:
        lines = lines[:-1]  # the last line of a prefix is cut short
    found: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            found.extend(_field_values(json.loads(line), text_field))
        except ValueError:
            found.extend(_regex_values(line, text_field))
    return found


def _field_values(value: Any, field: str) -> list[str]:
    """Every string stored under key `field`, at any depth."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            hit = item.get(field)
            if isinstance(hit, str):
                out.append(hit)
            stack.extend(v for k, v in item.items() if k != field and isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return out


def _regex_values(text: str, field: str) -> list[str]:
    """`"field": "..."` pairs in text that is not parseable JSON (a truncated prefix)."""
    pattern = re.compile('"' + re.escape(field) + r'"\s*:\s*("(?:[^"\\]|\\.)*")')
    values = []
    for match in pattern.finditer(text):
        try:
            values.append(json.loads(match.group(1)))
        except ValueError:
            continue
    return values


def _pdf_text(data: bytes) -> str:
    """Strings drawn by text operators in the (Flate-compressed or plain) content streams."""
    parts: list[str] = []
    for match in _STREAM.finditer(data):
        raw = match.group(1)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        if b"Tj" not in raw and b"TJ" not in raw:
            continue
        for token in _PDF_TEXT.findall(raw):
            if token.startswith(b"("):
                parts.append(token[1:-1].decode("latin-1"))
            else:
                digits = len(re.sub(rb"\s", b"", token)) - 2
                parts.append("x" * (digits // 4))  # 2-byte glyph ids: count, not decode
    return " ".join(parts)


_NON_WORD = re.compile(r"[^\w\s]")


def normal_text(text: str) -> str:
    """Case, compatibility forms, punctuation and whitespace folded away."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())
