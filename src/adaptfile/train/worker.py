"""Entry point of a torchrun-launched training process: rebuild the step context, run the recipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adaptfile.engine.protocol import StepContext


def main(spec_path: str) -> None:
    from adaptfile.train.launch import is_main_process
    from adaptfile.train.recipe import run_step

    spec = json.loads(Path(spec_path).read_text())
    work = Path(spec["work"])
    progress = work / "launch" / "progress.jsonl"
    rank_log = work / "launch" / f"rank{__import__('os').environ.get('RANK', '0')}.log"

    def report(done: float, total: float | None, message: str) -> None:
        if is_main_process():
            with open(progress, "a") as handle:
                handle.write(json.dumps([done, total, message]) + "\n")

    with open(rank_log, "w") as log:
        ctx = StepContext(
            step_id=spec["step_id"],
            key=spec["key"],
            params=spec["params"],
            root=Path(spec["root"]),
            inputs=(),
            upstream={k: Path(v) for k, v in spec["upstream"].items()},
            out=Path(spec["out"]),
            work=work,
            log_file=log,
            on_progress=report,
        )
        run_step(ctx, spec["method"], launch=spec["launch"])


if __name__ == "__main__":
    main(sys.argv[1])
