"""Step examples.load: records + report, duplicates dropped and reported, byte-identical reruns."""

from __future__ import annotations

import io
import json
from pathlib import Path

from adaptfile.engine.protocol import StepContext
from adaptfile.steps.examples_load import kind

DATA = "text,label\nwhere is my card,card_arrival\nwhere is my card,card_arrival\nbad,row,here\nlost it,lost_card\n"


def run_step(root: Path, params: dict, out: str) -> Path:
    target = root / out
    target.mkdir(parents=True)
    ctx = StepContext("examples.load", "k", params, root, (), {}, target, root / "work", io.StringIO())
    kind.run(ctx)
    return target


def test_loads_normalises_and_reports(tree) -> None:
    root = tree({"data/train.csv": DATA})
    out = run_step(root, {"data.examples.path": "data/train.csv", "data.examples.format": "auto"}, "a")
    rows = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rows] == [2, 5]
    assert rows[0]["messages"] == [{"role": "user", "content": "where is my card"},
                                   {"role": "assistant", "content": "card_arrival"}]  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert report["duplicates"] == [{"line": 3, "same_as": 2}] and report["bad_rows"][0]["line"] == 4
    assert report["kept"] == 2 and report["format"] == "text-label"
    again = run_step(root, {"data.examples.path": "data/train.csv", "data.examples.format": "auto"}, "b")
    for name in ("examples.jsonl", "report.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_serves_eval_load_too(tree) -> None:
    root = tree({"data/eval.jsonl": '{"question": "q", "answer": "a", "source": "docs/x.md"}\n'})
    out = run_step(root, {"data.eval.path": "data/eval.jsonl", "data.eval.format": "auto"}, "e")
    row = json.loads((out / "examples.jsonl").read_text())
    assert (row["input"], row["output"], row["source"]) == ("q", "a", "docs/x.md")
