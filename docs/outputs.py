"""Regenerate the command outputs quoted in README.md and docs/ from real runs; --check lists stale ones.

A fenced block is generated when the line before it is a marker (an HTML comment, so it does not render):

    <!-- output: examples/support-rag: adapt plan | sed -n '/^│ cpt /,/^[├└]/p' -->

PROJECT (a directory of this repository, before the first ": ") is copied to a temporary directory and
COMMAND runs there in `sh`, stdout and stderr together; "PROJECT, built:" runs it in a copy that
`adapt build` has built first (once per project and run). Excerpts are plain shell: `grep`, `sed -n`,
`head`. A `console` block shows `$ COMMAND` above the output; any other block the output alone.

So that every machine prints the same text, the command sees one reference machine and no model hub:
`adapt` on its PATH is this Python's adaptfile with the machine measurement fixed at 2 CPU cores and
25.3 GB (REFERENCE_MACHINE; nothing else is changed), HF_HUB_OFFLINE=1 with an empty HF_HOME, and
COLUMNS=100. Trailing spaces are dropped (Markdown keeps none); timings ("in 0.04s", "12.3 s",
"1,234 ms", never a "≈" estimate) are the one thing compared loosely. An output that names the
temporary directory is an error: pick a command that prints project-relative paths.

    python docs/outputs.py            rewrite every stale block (`make docs`)
    python docs/outputs.py --check    print a diff per stale block, exit 1 if there is one
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import adaptfile

REPO = Path(__file__).resolve().parents[1]
REFERENCE_MACHINE = {"memory_gb": 25.3, "cores": 2}
_MARKER = re.compile(r"^<!-- output: (?P<project>[^:,]+)(?P<built>, built)?: (?P<command>.+) -->$")
_FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
_TIMING = re.compile(r"(?<![≈\d.,])\d[\d,]*(?:\.\d+)?\s?m?s\b(?! est)")
_SHIM = """\
import sys
from adaptfile.plan import hardware
hardware.measure_machine = lambda: hardware.MachineInfo(memory_gb={memory_gb}, cores={cores})
from adaptfile.cli import main
sys.argv[0] = "adapt"
main()
"""


@dataclass(frozen=True)
class Block:
    """One generated block: where it is, what produces it, and the text it holds now."""

    file: Path
    line: int  # 1-based line of the opening fence, which is also the 0-based index of the first text line
    end: int  # 0-based index of the closing fence
    project: str
    built: bool
    command: str
    language: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line} ({self.project}: {self.command})"


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def find_blocks(files: Iterable[Path]) -> list[Block]:
    """Every fenced block that follows an output marker, in file order."""
    blocks = []
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines[:-1]):
            marker, fence = _MARKER.match(line), _FENCE.match(lines[index + 1])
            if not marker:
                continue
            if not fence:
                raise ValueError(f"{file}:{index + 1}: an output marker must be followed by a fenced block")
            end = next((i for i in range(index + 2, len(lines)) if lines[i].strip() == fence.group(1)), None)
            if end is None:
                raise ValueError(
                    f"{file}:{index + 2}: the fenced block after an output marker is never closed"
                )
            text = "\n".join(lines[index + 2 : end])
            project, built, command = marker["project"], bool(marker["built"]), marker["command"]
            blocks.append(Block(file, index + 2, end, project, built, command, fence.group(2), text))
    return blocks


def comparable(text: str) -> str:
    """The text with its timings replaced, so two runs of the same build compare equal."""
    return _TIMING.sub("<time>", text)


class Runner:
    """Runs markers' commands in temporary project copies on the reference machine."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        bin_dir = workdir / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "adapt"
        shim.write_text(f"#!{sys.executable}\n" + _SHIM.format(**REFERENCE_MACHINE), encoding="utf-8")
        shim.chmod(0o755)
        src = str(Path(adaptfile.__file__).resolve().parents[1])
        python_path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
        path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        self.env = {**os.environ, "PATH": path, "PYTHONPATH": python_path, "COLUMNS": "100",
                    "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(workdir / "hf")}  # fmt: skip
        self._built: dict[str, Path] = {}
        self._copies = 0

    def output(self, block: Block) -> str:
        """What the block's command prints now, as the block should hold it."""
        root = self._copy(self._built_copy(block.project) if block.built else REPO / block.project)
        done = subprocess.run(["sh", "-c", block.command], cwd=root, env=self.env, text=True, timeout=900,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        if str(self.workdir) in done.stdout:
            raise RuntimeError(f"{block.name} prints the temporary directory:\n{done.stdout}")
        text = "\n".join(line.rstrip() for line in done.stdout.rstrip().splitlines())
        return f"$ {block.command}\n{text}" if block.language == "console" else text

    def _copy(self, source: Path) -> Path:
        self._copies += 1
        target = self.workdir / f"run{self._copies}" / source.name
        shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*self._ignored(source)))
        return target

    def _ignored(self, source: Path) -> tuple[str, ...]:
        return () if source.is_relative_to(self.workdir) else (".adapt", "build")

    def _built_copy(self, project: str) -> Path:
        if project not in self._built:
            root = self._copy(REPO / project)
            done = subprocess.run(["adapt", "build"], cwd=root, env=self.env, text=True, timeout=900,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"adapt build failed in a copy of {project}:\n{done.stdout}")
            self._built[project] = root
        return self._built[project]


def stale_blocks(blocks: Iterable[Block], runner: Runner) -> Iterator[tuple[Block, str]]:
    """Each block whose text differs from what its command prints now (timings aside), with that output."""
    for block in blocks:
        fresh = runner.output(block)
        if comparable(fresh) != comparable(block.text):
            yield block, fresh


def diff(block: Block, fresh: str) -> str:
    """A unified diff from the block's text to the fresh output."""
    lines = difflib.unified_diff(block.text.splitlines(), fresh.splitlines(),
                                 f"{block.name} (in the file)", "(printed now)", lineterm="")  # fmt: skip
    return "\n".join(lines)


def rewrite(stale: list[tuple[Block, str]]) -> None:
    """Put the fresh outputs into their files, bottom-up so earlier line numbers stay valid."""
    for block, fresh in sorted(stale, key=lambda item: (item[0].file, -item[0].line)):
        lines = block.file.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[block.line : block.end] = [line + "\n" for line in fresh.splitlines()]
        block.file.write_text("".join(lines), encoding="utf-8")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    try:
        blocks = find_blocks(markdown_files())
        with tempfile.TemporaryDirectory(prefix="adapt-docs-") as tmp:
            stale = list(stale_blocks(blocks, Runner(Path(tmp))))
    except (ValueError, RuntimeError) as err:  # a malformed marker, a failing build, an output naming tmp
        print(f"error: {err}", file=sys.stderr)
        return 2
    for block, fresh in stale:
        print(diff(block, fresh) if check else f"updated {block.name}")
    if not check:
        rewrite(stale)
    print(f"{len(blocks)} generated blocks, {len(stale)} {'stale' if check else 'rewritten'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
