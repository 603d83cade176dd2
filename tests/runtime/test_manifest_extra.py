"""The engine's manifest hook: the caller's top-level keys (variants) are written and kept by later builds."""

from __future__ import annotations

import json
from pathlib import Path

from adaptfile.engine import BuildOptions, FunctionKind, build, register
from adaptfile.engine.registry import unregister
from adaptfile.plan.model import StepSpec


def _write(ctx) -> None:
    ctx.output("out.txt").write_text("x", encoding="utf-8")


def test_manifest_extra_is_written_and_kept(tmp_path: Path) -> None:
    register(FunctionKind("test.write", _write, ("out.txt",)))
    try:
        specs = [StepSpec("a", "test.write")]
        extra = {"variants": {"v": {"steps": ["a"], "adapter": None}}}
        assert build(tmp_path, specs, options=BuildOptions(manifest_extra=extra)).ok
        manifest = json.loads((tmp_path / "build/manifest.json").read_text())
        assert manifest["variants"] == extra["variants"] and "a" in manifest["steps"]
        assert build(tmp_path, specs).ok  # no extra given: the previous keys stay
        assert json.loads((tmp_path / "build/manifest.json").read_text())["variants"] == extra["variants"]
        assert build(
            tmp_path, specs, options=BuildOptions(manifest_extra={})
        ).ok  # an empty extra clears them
        assert "variants" not in json.loads((tmp_path / "build/manifest.json").read_text())
    finally:
        unregister("test.write")
