"""No-op builds cost `stat` calls only: nothing hashed, nothing run, "up to date", fast."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from adaptfile.engine import build
from adaptfile.engine import state as state_module
from adaptfile.plan.model import StepSpec

BENCH = Path(__file__).resolve().parents[2] / "bench" / "noop_build.py"
SPECS = (
    StepSpec("concat", "test.concat", inputs=("docs/**/*.md",)),
    StepSpec("upper", "test.upper", deps=("concat",)),
)


def test_noop_build_of_many_files_hashes_nothing(tmp_path: Path, kinds: list[str], monkeypatch) -> None:
    for index in range(300):
        folder = tmp_path / "docs" / f"d{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.md").write_text(f"doc {index}\n")
    build(tmp_path, SPECS)
    build(tmp_path, SPECS)  # files written just now are rehashed once (same-tick guard)
    kinds.clear()
    hashed: list[str] = []
    real = state_module.file_digest
    monkeypatch.setattr(state_module, "file_digest", lambda path: (hashed.append(path), real(path))[1])
    result = build(tmp_path, SPECS)
    assert result.summary()["up_to_date"]
    assert kinds == [] and hashed == []


@pytest.mark.slow
def test_noop_build_process_of_1000_files_takes_under_0_4_cpu_seconds() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "1000", "--repeat", "5", "--no-dvc"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    match = re.search(
        r"median ([\d.]+) s wall \(min [\d.]+, cpu ([\d.]+) s.* files hashed (\d+), up to date", done.stdout
    )
    assert match, done.stdout
    assert float(match.group(2)) < 0.4, done.stdout  # CPU: wall time on a shared machine is load
    assert float(match.group(1)) < 1.0, done.stdout
    assert int(match.group(3)) == 0
