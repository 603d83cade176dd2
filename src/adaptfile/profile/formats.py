"""Example record formats: detect one from a record's fields and normalize a record to an Example.

Accepted fields, per format (CSV headers are matched case-insensitively):

- messages: ``messages`` = list of ``{"role", "content"}``; the last turn is the assistant's answer.
- alpaca: ``instruction``, ``output``, optional ``input``.
- prompt-completion: ``prompt`` and ``completion``, or QA style ``question`` and ``answer``.
- text-label: ``text`` and ``label``; ``category`` and ``intent`` are accepted as ``label``
  (BANKING77 and most intent data sets ship ``text,category``).

Any format may carry ``source`` (or ``document``): the gold document an answer comes from (a path under
the project).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMATS: tuple[str, ...] = ("messages", "alpaca", "prompt-completion", "text-label")
LABEL_FIELDS: tuple[str, ...] = ("label", "category", "intent")
ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool"})
FIELDS: dict[str, str] = {
    "messages": '"messages": a list of {"role", "content"} objects ending with the assistant\'s turn',
    "alpaca": '"instruction" and "output" (optional "input")',
    "prompt-completion": '"prompt" and "completion", or "question" and "answer"',
    "text-label": '"text" and "label" (or "category" / "intent")',
}


class RowError(ValueError):
    """A record that does not satisfy its format; the message says what was expected."""


@dataclass(frozen=True)
class Example:
    """One annotated example, whatever its file format: what the model reads and must write."""

    input: str  # messages: every turn before the last, one per line
    output: str  # the answer, completion, output or label
    label: str | None = None  # text-label only
    source: str | None = None  # gold document, when named
    messages: tuple[tuple[str, str], ...] | None = None  # (role, content) turns, messages only


def detect(record: dict[str, Any]) -> str | None:
    """The format a record's fields announce, or None when they announce none."""
    if "messages" in record:
        return "messages"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if ("prompt" in record and "completion" in record) or ("question" in record and "answer" in record):
        return "prompt-completion"
    if "text" in record and any(name in record for name in LABEL_FIELDS):
        return "text-label"
    return None


def normalize(record: dict[str, Any], fmt: str) -> Example:
    """The record as an Example of format `fmt`; RowError says which field is missing or wrong."""
    source = _source(record)
    if fmt == "messages":
        return _messages(record, source)
    if fmt == "alpaca":
        instruction = _text(record, "instruction", fmt)
        extra = _text(record, "input", fmt, required=False)
        joined = f"{instruction}\n\n{extra}" if extra else instruction
        return Example(joined, _text(record, "output", fmt), source=source)
    if fmt == "prompt-completion":
        ask, say = ("question", "answer") if "prompt" not in record else ("prompt", "completion")
        return Example(_text(record, ask, fmt), _text(record, say, fmt, strip=False), source=source)
    if fmt == "text-label":
        name = next((n for n in LABEL_FIELDS if n in record), "label")
        label = _label(record, name)
        return Example(_text(record, "text", fmt), label, label=label, source=source)
    raise ValueError(f"unknown format {fmt!r}")


def describe_keys(record: dict[str, Any]) -> str:
    """The record's keys, for messages: 'found keys: a, b'."""
    keys = ", ".join(sorted(map(str, record))[:8]) or "none"
    return f"found keys: {keys}"


def _messages(record: dict[str, Any], source: str | None) -> Example:
    turns = record.get("messages")
    if not isinstance(turns, list) or not turns:
        raise RowError(
            f'"messages" must be a non-empty list of {{"role", "content"}} objects ({_got(turns)})'
        )
    pairs: list[tuple[str, str]] = []
    for number, turn in enumerate(turns, 1):
        if not isinstance(turn, dict):
            raise RowError(f'message {number} must be an object with "role" and "content" ({_got(turn)})')
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise RowError(
                f'message {number}: "role" must be one of {", ".join(sorted(ROLES))} (got {role!r})'
            )
        if not isinstance(content, str):
            raise RowError(f'message {number}: "content" must be a string ({_got(content)})')
        pairs.append((role, content))
    if pairs[-1][0] != "assistant" or not pairs[-1][1].strip():
        raise RowError('the last message must be the answer: role "assistant" with non-empty content')
    if len(pairs) < 2:
        raise RowError("messages need at least one turn before the assistant's answer")
    prompt = "\n".join(content for _, content in pairs[:-1])
    return Example(prompt, pairs[-1][1], source=source, messages=tuple(pairs))


def _text(record: dict[str, Any], name: str, fmt: str, required: bool = True, strip: bool = True) -> str:
    value = record.get(name)
    if value is None and not required:
        return ""
    if name not in record:
        raise RowError(f'missing field "{name}"; {fmt} rows need {FIELDS[fmt]}')
    if not isinstance(value, str):
        raise RowError(f'"{name}" must be a string ({_got(value)})')
    if required and not value.strip():
        raise RowError(f'"{name}" is empty')
    return value.strip() if strip else value


def _label(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise RowError(f'missing field "label"; text-label rows need {FIELDS["text-label"]}')
    value = record[name]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise RowError(f'"{name}" must be a string or an integer ({_got(value)})')
    if not value.strip():
        raise RowError(f'"{name}" is empty')
    return value.strip()


def _source(record: dict[str, Any]) -> str | None:
    field = "source" if record.get("source") not in (None, "") else "document"
    value = record.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowError(f'"{field}" must be a string naming the gold document ({_got(value)})')
    return value.strip()


def _got(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    kind = names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
    return f"got {kind}"
