"""Bad rows and unreadable files: a named warning on every build (terminal, --json, summary) or, with
`--strict` / `[data] strict = true`, exit 3; `--strict` is a check, never part of a key or adapt.lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .project import ROWS, TOML, project, run_adapt

BROKEN = ROWS + '{"question": "x\n'  # line 5: an unterminated string
REASON = "data/train.jsonl:5: invalid JSON: unterminated string (column 14)"


def adapt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_adapt("-C", str(root), *args)


def warned(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("warning: ")]


def test_bad_row_is_warned_on_every_build_and_strict_fails(tmp_path: Path) -> None:
    root = project(tmp_path, {"data/train.jsonl": BROKEN})
    plan = adapt(root, "plan")
    assert plan.returncode == 0 and REASON in plan.stdout + plan.stderr  # the plan says why, too

    first = adapt(root, "build")
    assert first.returncode == 0, first.stderr
    assert "warning: data/train.jsonl (data.examples): 1 bad row skipped" in warned(first)
    assert f"  {REASON}" in first.stderr.splitlines()
    assert "1 warning about the data" in first.stdout.splitlines()[-1]
    lock = (root / "adapt.lock").read_bytes()

    again = adapt(root, "build")  # nothing runs; the finding is read back from the cache entry
    assert again.returncode == 0 and again.stdout.startswith("up to date")
    assert warned(again) == warned(first)

    events = [json.loads(line) for line in adapt(root, "build", "--json").stdout.splitlines()]
    finding = next(e for e in events if e["event"] == "warning")
    assert finding["step"] == "examples.load" and finding["check"] == "bad-rows" and finding["count"] == 1
    assert finding["details"] == [REASON]
    assert events[-1]["event"] == "build_finished" and events[-1]["warnings"] == 1

    for args in (("--strict",), ("--strict", "--frozen")):  # the lock was built without --strict
        strict = adapt(root, "build", *args)
        assert strict.returncode == 3, strict.stdout + strict.stderr
        assert "error: --strict:" in strict.stderr and REASON in strict.stderr
        assert "Traceback" not in strict.stderr and "would change adapt.lock" not in strict.stderr
        assert "run " not in strict.stdout  # a check of the cached step: nothing reran
    assert (root / "adapt.lock").read_bytes() == lock  # --strict is no key

    (root / "adapt.toml").write_text(
        TOML.replace("[data.examples]", "[data]\nstrict = true\n\n[data.examples]")
    )
    configured = adapt(root, "build")
    assert configured.returncode == 3 and "[data] strict = true" in configured.stderr


def test_strict_frozen_passes_on_clean_data_against_a_lock_built_without_strict(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    assert adapt(root, "build").returncode == 0
    done = adapt(root, "build", "--strict", "--frozen")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("up to date") and not warned(done)


def test_csv_row_with_the_wrong_column_count_is_named(tmp_path: Path) -> None:
    rows = "question,answer\nq1?,a1\nq2?,a2,extra\nq3?,a3\n"
    root = project(tmp_path, {"adapt.toml": TOML.replace("train.jsonl", "train.csv"), "data/train.csv": rows})
    done = adapt(root, "build")
    assert done.returncode == 0, done.stderr
    assert "  data/train.csv:3: 3 column(s) but the header has 2 (question,answer)" in done.stderr
    strict = adapt(root, "build", "--strict")
    assert strict.returncode == 3 and "data/train.csv:3:" in strict.stderr


def test_utf16_examples_file_is_a_configuration_error(tmp_path: Path) -> None:
    root = project(tmp_path, {"data/train.jsonl": ROWS.encode("utf-16")})
    done = adapt(root, "build")
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "train.jsonl: the file is UTF-16 encoded" in done.stderr and "iconv" in done.stderr


@pytest.mark.slow
def test_examples_file_of_300_mb_is_read_to_the_end(tmp_path: Path) -> None:
    """Streamed, not cut at a parse limit: the bad row on the last line of a 300 MB file is found.
    (The fast form: tests/profile/test_profile_examples.py measures the reader's memory on 8 MB.)"""
    row = json.dumps({"question": "q" * 150 + "?", "answer": "a" * 140}) + "\n"
    chunks = 300_000_000 // (len(row) * 10_000) + 1  # of 10,000 rows each
    root = project(tmp_path, {"data/train.jsonl": ""})
    with (root / "data/train.jsonl").open("w") as handle:
        for _ in range(chunks):
            handle.write(row * 10_000)
        handle.write('{"question": "x\n')
    size = (root / "data/train.jsonl").stat().st_size
    assert size > 300_000_000
    env = {**os.environ, "COLUMNS": "400"}
    done = subprocess.run(
        [sys.executable, "-m", "adaptfile", "-C", str(root), "plan", "--json"],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    profile = json.loads(done.stdout)["profile"]["examples"]
    assert profile["rows"] == chunks * 10_000 and profile["duplicates"] == chunks * 10_000 - 1
    assert profile["bad_rows"][0]["line"] == profile["rows"] + 1
