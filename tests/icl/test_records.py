"""Examples in every format and file type, bad rows with line numbers, duplicates and leakage."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from adaptfile.errors import ConfigError
from adaptfile.icl.records import leaked, load_records


def _cfg(path: str, fmt: str = "auto") -> SimpleNamespace:
    return SimpleNamespace(path=path, format=fmt)


def _jsonl(*rows: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


MSG = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"}]}  # fmt: skip


def _load(root, config, key: str = "data.examples"):
    """The records as a list (load_records streams them; its report is complete once they are read)."""
    records, report = load_records(root, config, key)
    return list(records), report


@pytest.mark.parametrize(
    ("name", "content", "fmt", "first"),
    [
        ("m.jsonl", _jsonl(MSG, {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
         "messages", ("hi", "hello", None)),
        ("a.json", json.dumps([{"instruction": "Add", "input": "1 1", "output": "2"},
                               {"instruction": "Sub", "output": "0"}], indent=1),
         "alpaca", ("Add\n\n1 1", "2", None)),
        ("p.jsonl", _jsonl({"prompt": "p1", "completion": " c1", "source": "docs/a.md"}, {"prompt": "p2", "completion": "c2"}),
         "prompt-completion", ("p1", " c1", None)),
        ("t.csv", "text,category\nI lost my card,lost_card\nwhere is it,card_arrival\n", "text-label",
         ("I lost my card", "lost_card", "lost_card")),
    ],
)  # fmt: skip
def test_every_format_normalises_to_messages(tree, name: str, content: str, fmt: str, first: tuple) -> None:
    root = tree({name: content})
    records, report = _load(root, _cfg(name))
    assert report.format == fmt and report.kept == 2
    record = records[0]
    assert (record.input, record.output, record.label) == first
    assert record.messages[-1] == ("assistant", first[1])
    assert record.to_json()["messages"][-1] == {"role": "assistant", "content": first[1]}
    if fmt == "messages":
        assert record.messages[0] == ("system", "S")
    if fmt == "prompt-completion":
        assert record.source == "docs/a.md"


def test_forced_format(tree) -> None:
    root = tree({"q.jsonl": _jsonl({"question": "q", "answer": "a"})})
    records, report = _load(root, _cfg("q.jsonl", "prompt-completion"))
    assert report.format == "prompt-completion" and records[0].input == "q"


def test_bad_rows_are_reported_with_their_lines(tree) -> None:
    root = tree(
        {
            "d.jsonl": _jsonl(
                {"text": "a", "label": "x"}, "{not json", {"text": "b"}, {"text": "c", "label": "y"}
            )
        }
    )
    records, report = _load(root, _cfg("d.jsonl"))
    assert [r.line for r in records] == [1, 4]
    assert [b["line"] for b in report.bad_rows] == [2, 3]
    assert "invalid JSON" in report.bad_rows[0]["message"]


def test_csv_bad_row_line_numbers(tree) -> None:
    root = tree({"d.csv": 'text,label\nok,a\n"multi\nline",b\ntoo,many,cells\nfine,c\n'})
    records, report = _load(root, _cfg("d.csv"))
    assert [r.line for r in records] == [2, 3, 6]
    assert report.bad_rows[0]["line"] == 5 and "3 column(s)" in report.bad_rows[0]["message"]


def test_json_array_lines(tree) -> None:
    rows = '[\n {"text": "a", "label": "x"},\n {"text": "b"},\n {"text": "c", "label": "y"}\n]\n'
    records, report = _load(tree({"d.json": rows}), _cfg("d.json"))
    assert [r.line for r in records] == [2, 4] and report.bad_rows[0]["line"] == 3


def test_no_valid_rows_names_file_and_lines(tree) -> None:
    root = tree({"d.jsonl": _jsonl({"foo": 1}, {"bar": 2})})
    with pytest.raises(ConfigError, match=r"d.jsonl: no valid rows") as err:
        load_records(root, _cfg("d.jsonl"))
    assert "d.jsonl:1:" in err.value.message and "d.jsonl:2:" in err.value.message


def test_exact_duplicates_dropped_near_duplicates_counted(tree) -> None:
    root = tree(
        {"d.csv": 'text,label\nHello there,a\nHello there,a\n"hello,  THERE!",a\nHello there,b\nother,a\n'}
    )
    records, report = _load(root, _cfg("d.csv"))
    assert [r.line for r in records] == [2, 4, 5, 6]
    assert report.duplicates == [{"line": 3, "same_as": 2}]
    assert report.near_duplicates == [{"line": 4, "like": 2}]
    assert report.labels == {"a": 3, "b": 1}
    assert "1 exact duplicates dropped, 1 near-duplicates" in report.summary()


def test_leakage_ignores_case_and_punctuation(tree) -> None:
    root = tree(
        {
            "train.csv": "text,label\nWhere is my card?,a\nfoo,b\n",
            "eval.csv": "text,label\nwhere is my CARD,a\nbar,b\n",
        }
    )
    train, _ = _load(root, _cfg("train.csv"))
    evaluation, _ = _load(root, _cfg("eval.csv"), "data.eval")
    assert [(record.line, line) for record, line in leaked(train, evaluation)] == [(2, 2)]
