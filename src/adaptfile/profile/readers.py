"""Read the records of an examples file (JSONL, JSON array, CSV/TSV) with their 1-based line numbers."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from adaptfile.errors import ConfigError

FILE_TYPES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
}

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_WS = re.compile(r"[ \t\n\r]*")
_UNDECODED = re.compile("[\udc80-\udcff]")
_LONGEST_LITERAL = len("-Infinity")  # a value cut inside a literal fails this close to the window's end
_DANGLING_AT = re.compile(r"( starting)? at$")  # json's "Unterminated string starting at" + position
ENCODING_HINT = "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"


class RawRow(NamedTuple):
    """A record read from a file, or why the line could not be read as one."""

    line: int
    record: dict[str, Any] | None
    error: str | None = None


def file_type(path: Path) -> str | None:
    """jsonl | json | csv | tsv from the extension; None when unsupported."""
    return FILE_TYPES.get(path.suffix.lower())


class RowReader:
    """Iterate the rows of one file to its end, streamed: memory does not grow with the file (JSON Lines
    and CSV/TSV line by line, a JSON array record by record)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind

    def rows(self) -> Iterator[RawRow]:
        if self.kind == "json":
            return self._json_rows()
        lines = self._lines()
        if self.kind == "jsonl":
            return _jsonl_rows(lines)
        return _csv_rows(lines, "\t" if self.kind == "tsv" else ",")

    def _json_rows(self) -> Iterator[RawRow]:
        """The records of a .json file; the file closes when the reading ends, also when it stops early."""
        with self.path.open("rb") as handle:
            yield from _json_rows(_Window(self.path, handle))

    def _lines(self) -> Iterator[str]:
        """Decoded lines (newlines kept; undecodable bytes as lone surrogates), one at a time."""
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if number == 1:
                    _check_bom(self.path, raw)
                    raw = raw.removeprefix(_BOM)
                yield raw.decode("utf-8", "surrogateescape")


def undecoded_error(text: str) -> str | None:
    """A message when `text` holds bytes that were not UTF-8, else None."""
    match = _UNDECODED.search(text)
    if match is None:
        return None
    byte = ord(match.group()) - 0xDC00
    return (
        f"not UTF-8: byte 0x{byte:02x} at column {match.start() + 1}; the file looks Latin-1 / "
        f"Windows-1252 encoded ({ENCODING_HINT})"
    )


def _jsonl_rows(lines: Iterator[str]) -> Iterator[RawRow]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        bad = undecoded_error(line)
        if bad:
            yield RawRow(number, None, bad)
            continue
        try:
            value = json.loads(line.rstrip("\r\n"))  # an unclosed string ends at the line's end
        except json.JSONDecodeError as err:
            yield RawRow(number, None, json_error(err))
            continue
        yield _as_record(number, value)


class _Window:
    """A file's text read a piece at a time: `text` holds what is not dropped yet; `line_at` counts lines
    incrementally (positions asked for only grow)."""

    CHUNK = 1 << 20

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.text = ""
        self.first_line = 1  # the line of text[0]
        self.mark = (0, 1)  # a position in text and its line
        self.first_columns = 0  # characters of the first line dropped before text[0]
        self.eof = False
        self.started = False

    def more(self) -> bool:
        """Read the next piece; False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(self.CHUNK)
        if not self.started:
            _check_bom(self.path, data)
            data, self.started = data.removeprefix(_BOM), True
        self.eof = not data
        self.text += self.decoder.decode(data, final=self.eof)
        return True

    def skip_space(self, pos: int) -> int:
        """The first non-whitespace position from `pos`, reading on as needed (len(text) at the end)."""
        while True:
            pos = _WS.match(self.text, pos).end()
            if pos < len(self.text) or not self.more():
                return pos

    def line_at(self, pos: int) -> int:
        at, line = self.mark
        line += self.text.count("\n", at, pos)
        self.mark = (pos, line)
        return line

    def drop_before(self, pos: int) -> int:
        """Forget the text before `pos` once it fills a piece: whole lines, or for a long line (a minified
        array) up to `pos`, remembering how many columns of the first line are gone; `pos` in the text kept."""
        cut = self.text.rfind("\n", 0, pos) + 1
        if cut < self.CHUNK and pos < 2 * self.CHUNK:
            return pos
        line = self.line_at(pos if cut < self.CHUNK else cut)
        self.first_columns = self.first_columns + pos if cut < self.CHUNK and line == self.first_line else 0
        if cut < self.CHUNK:
            cut = pos
        self.first_line, self.text, self.mark = line, self.text[cut:], (0, line)
        return pos - cut

    def where(self, err: json.JSONDecodeError) -> tuple[int, int]:
        """The file line and column of a decoding error in `text`."""
        columns = self.first_columns if err.lineno == 1 else 0
        return self.first_line + err.lineno - 1, err.colno + columns


def _json_rows(window: _Window) -> Iterator[RawRow]:
    """The records of a JSON array, each decoded as soon as the window holds all of it."""
    decoder = json.JSONDecoder()
    pos = window.skip_space(0)
    if pos == len(window.text):
        return
    if window.text[pos] != "[":
        while window.more():
            pass
        yield from _json_single_or_lines(window.text, pos, decoder)
        return
    index = 0
    pos = window.skip_space(pos + 1)
    while pos < len(window.text) and window.text[pos] != "]":
        index += 1
        pos = window.drop_before(pos)
        decoded = _decode_record(window, decoder, pos)
        if isinstance(decoded, json.JSONDecodeError):
            line, column = window.where(decoded)
            why = json_error(decoded, column)
            yield RawRow(line, None, f"record {index}: {why}; the records after it were not read")
            return
        value, end = decoded
        line = window.line_at(pos)
        bad = undecoded_error(window.text[pos:end])
        yield RawRow(line, None, bad) if bad else _as_record(line, value)
        pos = window.skip_space(end)
        if pos < len(window.text) and window.text[pos] == ",":
            pos = window.skip_space(pos + 1)
        elif pos >= len(window.text) or window.text[pos] != "]":
            where = window.line_at(pos)
            yield RawRow(
                where, None, "expected ',' or ']' after a record; the records after it were not read"
            )
            return
    if pos >= len(window.text):
        yield RawRow(window.line_at(pos), None, "the array is not closed with ']'; the file may be truncated")


def _decode_record(
    window: _Window, decoder: json.JSONDecoder, pos: int
) -> tuple[Any, int] | json.JSONDecodeError:
    """The value at `pos` and where it ends, reading on while the window may hold only part of it."""
    while True:
        try:
            value, end = decoder.raw_decode(window.text, pos)
        except json.JSONDecodeError as err:
            cut_short = (
                err.msg.startswith("Unterminated string") or err.pos >= len(window.text) - _LONGEST_LITERAL
            )
            if cut_short and window.more():
                continue
            return err
        if end < len(window.text) or not window.more():  # a number at the window's end may go on
            return value, end


def _json_single_or_lines(text: str, pos: int, decoder: json.JSONDecoder) -> Iterator[RawRow]:
    """A .json file that is not an array: JSON Lines under a .json name, or a single object."""
    try:
        value, end = decoder.raw_decode(text, pos)
    except json.JSONDecodeError as err:
        yield RawRow(err.lineno, None, json_error(err))
        return
    if text[end:].strip():
        yield from _jsonl_rows(iter(text.split("\n")))
    elif isinstance(value, dict) and any(isinstance(v, list) for v in value.values()) and len(value) <= 2:
        keys = ", ".join(sorted(value))
        yield RawRow(
            1, None, f"expected a JSON array of records ([{{...}}, ...]), got an object with keys: {keys}"
        )
    else:
        yield _as_record(text.count("\n", 0, pos) + 1, value)


def _csv_rows(lines: Iterator[str], delimiter: str) -> Iterator[RawRow]:
    read = 0

    def counted() -> Iterator[str]:
        nonlocal read
        for line in lines:
            read += 1
            yield line

    source = counted()
    reader = csv.reader(source, delimiter=delimiter)
    header: list[str] | None = None
    while True:
        start = read + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield RawRow(start, None, f"unreadable CSV: {err}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            if delimiter == "," and len(header) == 1 and ";" in header[0]:
                delimiter = ";"  # a semicolon-separated export named .csv
                reader = csv.reader(source, delimiter=delimiter)
                header = [cell.strip() for cell in header[0].split(";")]
            continue
        yield _csv_row(start, row, header, delimiter)


def _csv_row(line: int, row: list[str], header: list[str], delimiter: str) -> RawRow:
    bad = undecoded_error(delimiter.join(row))
    if bad:
        return RawRow(line, None, bad)
    if len(row) != len(header):
        names = delimiter.join(header)
        hint = "; quote values that contain the delimiter" if len(row) > len(header) else ""
        if any("\n" in cell for cell in row):
            hint = "; a quoted value runs over several lines: check for a quote that is never closed"
        return RawRow(line, None, f"{len(row)} column(s) but the header has {len(header)} ({names}){hint}")
    return RawRow(line, dict(zip(header, row, strict=True)))


def _as_record(line: int, value: Any) -> RawRow:
    if isinstance(value, dict):
        return RawRow(line, value)
    kind = "an array" if isinstance(value, list) else type(value).__name__
    return RawRow(line, None, f"expected a JSON object {{...}}, got {kind}")


def _check_bom(path: Path, head: bytes) -> None:
    if head.startswith(_UTF16_BOMS):
        raise ConfigError(
            f"{path.name}: the file is UTF-16 encoded; examples must be UTF-8", hint=ENCODING_HINT
        )


def json_error(err: json.JSONDecodeError, column: int | None = None) -> str:
    """Why a JSON text does not parse, for a person: "invalid JSON: unterminated string (column 14)"."""
    reason = err.msg[:1].lower() + err.msg[1:]
    return f"invalid JSON: {_DANGLING_AT.sub('', reason)} (column {column or err.colno})"
