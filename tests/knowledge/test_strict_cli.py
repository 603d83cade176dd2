"""`adapt build --strict`: an unreadable knowledge file fails the build instead of being skipped."""

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
    strict = build(tmp_path, "--strict")
    assert strict.returncode == 1
    assert "docs/bad.md" in strict.stdout + strict.stderr
    assert "Traceback" not in strict.stderr
