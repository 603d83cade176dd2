"""The profiler is stdlib only: importing and running it loads no ML library (and not pydantic)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "numpy", "llama_index", "sentence_transformers", "peft", "pydantic")


def test_importing_the_profiler_loads_no_heavy_library() -> None:
    code = f"import sys, adaptfile.profile; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
