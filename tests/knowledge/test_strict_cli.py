"""An unreadable knowledge file: skipped with a warning naming it and why; `adapt build --strict` exits 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOML = """[project]
name = "strict"
[model]
base = "Qwen/Qwen2.5-0.5B-Instruct"
params = "0.5B"
[data.knowledge]
paths = ["docs/*.md"]
[needs]
citations = true
"""


def build(root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptfile", "build", *flags, "knowledge.load"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_binary_file_is_skipped_or_with_strict_fails(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/good.md").write_text("# Good\n\nReadable text.\n")
    (tmp_path / "docs/bad.md").write_bytes(b"\x00\x01\x02 binary \xff\xfe" * 20)
    (tmp_path / "adapt.toml").write_text(TOML)
    lenient = build(tmp_path)
    assert lenient.returncode == 0, lenient.stderr
    assert "docs/bad.md" in (tmp_path / "build/knowledge.load/skipped.json").read_text()
    assert "warning: data.knowledge.paths: 1 file skipped" in lenient.stderr
    assert "  docs/bad.md: binary file (NUL bytes), not text" in lenient.stderr.splitlines()
    strict = build(tmp_path, "--strict")  # the cached step is judged again: nothing reruns
    assert strict.returncode == 3, strict.stderr
    assert "error: --strict:" in strict.stderr and "docs/bad.md" in strict.stderr
    assert "run knowledge.load" not in strict.stdout
    assert "Traceback" not in strict.stderr
