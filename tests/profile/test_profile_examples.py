"""Examples and eval files: format detection per file type, bad rows, encodings, duplicates, errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptfile.config import Project
from adaptfile.errors import ConfigError
from adaptfile.profile import profile_data, read_examples

ROWS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "messages": (
        "messages",
        [
            {"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}
            for i in range(3)
        ],
    ),
    "alpaca": (
        "alpaca",
        [{"instruction": "Translate", "input": f"word {i}", "output": "mot"} for i in range(3)],
    ),
    "prompt-completion": (
        "prompt-completion",
        [{"prompt": f"{i}+2?", "completion": "sum"} for i in range(3)],
    ),
    "qa": (
        "prompt-completion",
        [
            {"question": f"How to reset {i}?", "answer": "Hold it.", "source": "docs/reset.md"}
            for i in range(3)
        ],
    ),
    "text-label": ("text-label", [{"text": f"lost card {i}", "label": f"l{i % 2}"} for i in range(3)]),
    "text-category": ("text-label", [{"text": f"card {i}", "category": "card_arrival"} for i in range(3)]),
    "text-intent": ("text-label", [{"text": f"card {i}", "intent": "card_arrival"} for i in range(3)]),
}

ProjectMaker = Callable[..., Project]


def jsonl(*records: Any) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def _csv(records: list[dict[str, Any]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def _render(kind: str, records: list[dict[str, Any]]) -> str:
    if kind == "jsonl":
        return jsonl(*records)
    if kind == "json":
        return json.dumps(records, indent=2)
    return _csv(records, "\t" if kind == "tsv" else ",")


def _examples(project: ProjectMaker, name: str, text: str | bytes, fmt: str = "auto"):
    tables = f'[data.examples]\npath = "{name}"\nformat = "{fmt}"\n'
    return profile_data(project(tables, {name: text})).examples


CASES = [(kind, style) for kind in ("jsonl", "json", "csv", "tsv") for style in ROWS]
CASES = [(kind, style) for kind, style in CASES if not (kind in ("csv", "tsv") and style == "messages")]


@pytest.mark.parametrize(("kind", "style"), CASES)
def test_each_format_is_detected_in_each_file_type(project: ProjectMaker, kind: str, style: str) -> None:
    expected, records = ROWS[style]
    prof = _examples(project, f"data/train.{kind}", _render(kind, records))
    assert (prof.file_type, prof.format, prof.rows, prof.bad_rows) == (kind, expected, 3, ())
    assert prof.path == f"data/train.{kind}"
    assert prof.with_source == (3 if style == "qa" else 0)
    assert prof.labels == ({"text-label": 2, "text-category": 1, "text-intent": 1}.get(style))


def test_broken_jsonl_lines_are_reported_with_their_line_numbers(project: ProjectMaker) -> None:
    good = json.dumps({"prompt": "p", "completion": "c"})
    text = "\n".join(
        [
            good,
            '{"prompt": "p2", "completion": ',  # 2: truncated JSON
            "",  # 3: blank lines are fine
            json.dumps({"prompt": "p3", "completion": 7}),  # 4: wrong type
            json.dumps({"prompt": "p4"}),  # 5: missing field
            "[1, 2]",  # 6: not an object
            json.dumps({"prompt": "p7", "completion": "c7"}),
        ]
    )
    prof = _examples(project, "train.jsonl", text + "\n")
    assert prof.rows == 2
    lines = {issue.line: issue.message for issue in prof.bad_rows}
    assert sorted(lines) == [2, 4, 5, 6]
    assert "invalid JSON" in lines[2]
    assert '"completion" must be a string (got a number)' in lines[4]
    assert 'missing field "completion"' in lines[5] and '"prompt" and "completion"' in lines[5]
    assert "expected a JSON object" in lines[6]
    assert all(issue.path == "train.jsonl" for issue in prof.bad_rows)
    assert prof.bad_row_count == 4


def test_json_array_issues_point_at_the_record_line(project: ProjectMaker) -> None:
    text = '[\n  {"text": "a", "label": "x"},\n  {"text": "b"},\n  {"text": "c", "label": "y"}\n]\n'
    prof = _examples(project, "train.json", text)
    assert prof.rows == 2
    assert [(i.line, "missing field" in i.message) for i in prof.bad_rows] == [(3, True)]


def test_json_array_syntax_error_keeps_records_before_it(project: ProjectMaker) -> None:
    text = '[\n{"text": "a", "label": "x"},\n{"text": "b", "label": }\n]'
    prof = _examples(project, "train.json", text)
    assert prof.rows == 1
    assert prof.bad_rows[0].line == 3 and "not read" in prof.bad_rows[0].message


def test_jsonl_named_json_is_read_as_lines(project: ProjectMaker) -> None:
    prof = _examples(project, "train.json", jsonl({"text": "a", "label": "x"}, {"text": "b", "label": "y"}))
    assert (prof.rows, prof.labels) == (2, 2)


def test_csv_rows_with_missing_or_extra_columns(project: ProjectMaker) -> None:
    text = 'text,category\nhello there,greet\njust text\n\na,b,c\n"quoted, with comma",greet\n'
    prof = _examples(project, "train.csv", text)
    assert prof.rows == 2
    assert [(i.line, i.message.split(" ")[0]) for i in prof.bad_rows] == [(3, "1"), (5, "3")]
    assert "header has 2 (text,category)" in prof.bad_rows[0].message
    assert "quote values" in prof.bad_rows[1].message


def test_csv_multiline_field_keeps_line_numbers(project: ProjectMaker) -> None:
    text = 'text,label\n"two\nlines",a\nok,b\nbroken\n'
    prof = _examples(project, "train.csv", text)
    assert prof.rows == 2 and [i.line for i in prof.bad_rows] == [5]


def test_unclosed_quote_is_named(project: ProjectMaker) -> None:
    prof = _examples(project, "train.csv", 'text,label\nok,a\n"unclosed,b\nnext,c\n')
    assert prof.rows == 1 and "quote that is never closed" in prof.bad_rows[0].message


def test_semicolon_csv_is_accepted(project: ProjectMaker) -> None:
    prof = _examples(project, "train.csv", "Text;Label\nhello;greet\nbye;leave\n")
    assert (prof.format, prof.rows, prof.labels) == ("text-label", 2, 2)


def test_forced_format_mismatch_names_the_format_the_rows_have(project: ProjectMaker) -> None:
    text = jsonl({"prompt": "p", "completion": "c"}, {"instruction": "i", "output": "o"})
    prof = _examples(project, "train.jsonl", text, fmt="alpaca")
    assert (prof.format, prof.rows) == ("alpaca", 1)
    (issue,) = prof.bad_rows
    assert issue.line == 1
    assert 'missing field "instruction"' in issue.message
    assert 'set data.examples.format = "prompt-completion" or "auto"' in issue.message


def test_forced_format_matching_no_row_is_a_config_error(project: ProjectMaker) -> None:
    text = jsonl({"prompt": "p", "completion": "c"}, {"prompt": "q", "completion": "d"})
    with pytest.raises(ConfigError) as caught:
        _examples(project, "train.jsonl", text, fmt="text-label")
    message = caught.value.message
    assert "data.examples.path: train.jsonl: no valid rows (2 bad)" in message
    assert "train.jsonl:1:" in message and 'format = "prompt-completion"' in message
    assert "data.examples.format" in caught.value.hint


def test_mixed_formats_flag_the_minority(project: ProjectMaker) -> None:
    majority = [{"prompt": f"p{i}", "completion": "c"} for i in range(4)]
    text = jsonl(*majority[:2], {"text": "t", "label": "l"}, *majority[2:])
    prof = _examples(project, "train.jsonl", text)
    assert (prof.format, prof.rows) == ("prompt-completion", 4)
    (issue,) = prof.bad_rows
    assert issue.line == 3
    assert "looks like text-label" in issue.message and "4 of 5 rows are prompt-completion" in issue.message


def test_row_with_unknown_fields_is_checked_against_the_majority(project: ProjectMaker) -> None:
    text = jsonl({"instruction": "i", "output": "o"}, {"instruction": "j", "answer": "o"})
    prof = _examples(project, "train.jsonl", text)
    (issue,) = prof.bad_rows
    assert 'missing field "output"' in issue.message and "found keys: answer, instruction" in issue.message


def test_no_known_fields_at_all_is_a_config_error(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError) as caught:
        _examples(project, "train.jsonl", jsonl({"q": "a", "a": "b"}))
    assert "no known example fields (found keys: a, q)" in caught.value.message
    assert '"prompt" and "completion"' in caught.value.hint


def test_exact_duplicates_are_counted(project: ProjectMaker) -> None:
    row = {"text": "hello", "label": "greet"}
    text = jsonl(row, row, {"text": "hello", "label": "other"}, {"text": "hello", "label": "greet", "id": 9})
    prof = _examples(project, "train.jsonl", text)
    assert (prof.rows, prof.duplicates, prof.labels) == (4, 2, 2)


def test_bom_and_crlf_are_handled(project: ProjectMaker) -> None:
    body = "text,category\r\nhello,greet\r\nbye,leave\r\n"
    prof = _examples(project, "train.csv", b"\xef\xbb\xbf" + body.encode())
    assert (prof.format, prof.rows, prof.bad_rows) == ("text-label", 2, ())
    lines = jsonl({"prompt": "p", "completion": "c"}, {"prompt": "q", "completion": "d"}).replace(
        "\n", "\r\n"
    )
    prof = _examples(project, "train.jsonl", b"\xef\xbb\xbf" + lines.encode())
    assert (prof.rows, prof.bad_rows) == (2, ())
    prof = _examples(project, "train.json", b"\xef\xbb\xbf" + b'[{"text": "a", "label": "b"}]')
    assert prof.rows == 1


def test_latin1_rows_are_reported_clearly(project: ProjectMaker) -> None:
    body = "text,label\nplain,a\ncaf\u00e9 cr\u00e8me,b\nok,c\n".encode("latin-1")
    prof = _examples(project, "train.csv", body)
    assert prof.rows == 2
    (issue,) = prof.bad_rows
    assert issue.line == 3
    assert "not UTF-8: byte 0xe9" in issue.message and "Latin-1" in issue.message and "iconv" in issue.message


def test_utf16_file_is_a_config_error(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError, match="UTF-16"):
        _examples(project, "train.jsonl", jsonl({"prompt": "p", "completion": "c"}).encode("utf-16"))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("train.jsonl", "", "train.jsonl is empty"),
        ("train.jsonl", "\n\n", "train.jsonl is empty"),
        ("train.csv", "text,label\n", "train.csv has a header but no rows"),
        ("train.json", "[]", "train.json is empty"),
    ],
)
def test_empty_files_are_config_errors(project: ProjectMaker, name: str, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _examples(project, name, text)
    assert caught.value.message == f"data.examples.path: {expected}"


def test_missing_file_names_the_key(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError) as caught:
        profile_data(project('[data.eval]\npath = "data/eval.jsonl"\n'))
    assert caught.value.message.startswith("data.eval.path: data/eval.jsonl: no such file under ")
    assert "data.eval.path" in caught.value.hint


def test_unsupported_extension(project: ProjectMaker) -> None:
    with pytest.raises(ConfigError, match=r"data.examples.path: train.txt: unsupported file type '.txt'"):
        _examples(project, "train.txt", "hello\n")


def test_token_estimates(project: ProjectMaker) -> None:
    text = jsonl({"prompt": "a" * 40, "completion": "b" * 8}, {"prompt": "c" * 400, "completion": "d" * 4})
    prof = _examples(project, "train.jsonl", text)
    assert (prof.input_tokens_max, prof.tokens_max, prof.tokens_mean) == (100, 101, 56.5)
    assert prof.tokens_total == 113


def test_messages_input_is_every_turn_before_the_answer(project: ProjectMaker) -> None:
    turns = [
        {"role": "system", "content": "s" * 40},
        {"role": "user", "content": "u" * 40},
        {"role": "assistant", "content": "a" * 40},
    ]
    prof = _examples(project, "train.jsonl", jsonl({"messages": turns}, {"messages": turns[:2]}))
    assert (prof.rows, prof.input_tokens_max, prof.tokens_max) == (1, 21, 31)
    assert "last message must be the answer" in prof.bad_rows[0].message


def test_eval_overlap_and_all_errors_at_once(project: ProjectMaker) -> None:
    tables = '[data.examples]\npath = "train.jsonl"\n[data.eval]\npath = "eval.jsonl"\n'
    files = {
        "train.jsonl": jsonl({"question": "q1", "answer": "a"}, {"question": "q2", "answer": "a"}),
        "eval.jsonl": jsonl({"question": "q2", "answer": "other"}, {"question": "q3", "answer": "a"}),
    }
    assert profile_data(project(tables, files)).eval_overlap == 1
    tables = tables.replace("eval.jsonl", "missing.jsonl") + '[data.knowledge]\npaths = ["nothing/*.md"]\n'
    with pytest.raises(ConfigError) as caught:
        profile_data(project(tables, {"train.jsonl": ""}))
    message = caught.value.message
    assert message.startswith("3 problems with the data files:")
    assert (
        "data.knowledge.paths[0]" in message
        and "data.examples.path" in message
        and "data.eval.path" in message
    )


def test_every_row_is_read_to_the_end_of_the_file(project: ProjectMaker) -> None:
    """No parse limit: a bad row on the last line of the file is found and named with its reason."""
    text = jsonl(*({"prompt": f"p{i:05}", "completion": "c"} for i in range(20_000))) + '{"prompt": "x\n'
    prof = _examples(project, "train.jsonl", text)
    assert prof.rows == 20_000
    assert [(issue.line, issue.message) for issue in prof.bad_rows] == [
        (20_001, "invalid JSON: unterminated string (column 12)")
    ]


@pytest.mark.parametrize("layout", ["jsonl", "json-indented", "json-minified"])
def test_rows_are_streamed_not_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    """Reading a JSON Lines, CSV or JSON array file holds a piece at a time: traced memory stays far below
    the file's size. (The 300 MB end-to-end case is tests/badinput/test_data_checks.py, marked slow.)"""
    import tracemalloc

    from adaptfile.profile import readers

    monkeypatch.setattr(readers._Window, "CHUNK", 1 << 16)
    record = {"prompt": "p" * 200, "completion": "c" * 200}
    path = tmp_path / ("big.jsonl" if layout == "jsonl" else "big.json")
    if layout == "jsonl":
        path.write_text((json.dumps(record) + "\n") * 20_000)  # 8 MB
    else:
        path.write_text(json.dumps([record] * 20_000, indent=2 if layout == "json-indented" else None))
    tracemalloc.start()
    try:
        kind = "jsonl" if layout == "jsonl" else "json"
        count = sum(1 for raw in readers.RowReader(path, kind).rows() if raw.record is not None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < path.stat().st_size // 10, peak  # a few pieces of 64 KiB, not the 8 MB file


@given(
    records=st.lists(
        st.dictionaries(st.sampled_from(["prompt", "completion", "x"]), st.text(max_size=12) | st.integers()),
        max_size=6,
    ),
    indent=st.sampled_from([None, 1, 3]),
    cut=st.integers(min_value=0, max_value=400) | st.none(),
)
@settings(deadline=None)  # each example writes a file and reads it three times
def test_a_json_array_read_in_pieces_gives_the_rows_read_whole(
    records: list, indent: int | None, cut: int | None
) -> None:
    """Pieces of a few characters: every row, line and error (a file cut short anywhere) as with one piece."""
    import tempfile

    from adaptfile.profile import readers

    text = json.dumps(records, indent=indent, ensure_ascii=False)
    text = text if cut is None else text[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.json"
        path.write_text(text, encoding="utf-8")
        rows = {}
        for chunk in (1 << 20, 5, 1):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(readers._Window, "CHUNK", chunk)
                rows[chunk] = list(readers.RowReader(path, "json").rows())
    assert rows[5] == rows[1 << 20] == rows[1]
    if cut is None:
        assert [r.record for r in rows[1]] == records


def test_read_examples_normalizes_rows(project: ProjectMaker) -> None:
    proj = project(
        '[data.examples]\npath = "train.csv"\n',
        {"train.csv": "text,intent\nhello,greet\nbroken\nbye,leave\n"},
    )
    assert proj.config.data.examples is not None
    examples = read_examples(proj.root, proj.config.data.examples)
    assert [(e.input, e.output, e.label) for e in examples] == [
        ("hello", "greet", "greet"),
        ("bye", "leave", "leave"),
    ]


def test_sources_naming_no_corpus_document_are_counted_per_source(project: ProjectMaker) -> None:
    rows = [
        {"question": "a?", "answer": "x", "source": "docs/reset.md"},
        {"question": "b?", "answer": "x", "document": "reset"},  # "document" names the gold file too
        {"question": "c?", "answer": "x", "source": "docs/gone.md"},
        {"question": "d?", "answer": "x", "source": "docs/gone.md"},
    ]
    tables = '[data.knowledge]\npaths = ["docs/*.md"]\n[data.examples]\npath = "data/train.jsonl"\n'
    data = profile_data(project(tables, {"docs/reset.md": "Hold reset.\n", "data/train.jsonl": jsonl(*rows)}))
    assert data.examples.with_source == 4
    assert data.unknown_sources == {"docs/gone.md": 2}
