"""`python fsdp_driver.py METHOD EXAMPLES OUT WORK PARAMS-JSON`: one training step in its own process
(the FSDP kill test SIGKILLs it and its torchrun workers, then runs it again to resume). The workers render
the training text with the real templates, as in the uninterrupted run they are compared with."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from adaptfile.engine.protocol import StepContext
from adaptfile.steps.train_models import FULL_TRAIN, LORA_TRAIN


def main(method: str, examples: str, out: str, work: str, params: str) -> None:
    ctx = StepContext(
        step_id=f"{method}.train",
        key="fsdp-kill",
        params=json.loads(params),
        root=Path(out).parent,
        inputs=(),
        upstream={"examples.load": Path(examples)},
        out=Path(out),
        work=Path(work),
        log_file=io.StringIO(),
    )
    (FULL_TRAIN if method == "full" else LORA_TRAIN).run(ctx)


if __name__ == "__main__":
    main(*sys.argv[1:])
