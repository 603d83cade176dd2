"""`python fsdp_driver.py METHOD BASE EXAMPLES OUT WORK PARAMS-JSON`: one training step in its own process
(the FSDP kill test SIGKILLs it and its torchrun workers, then runs it again to resume)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.train.conftest import fake_renderer

from adaptfile.engine.protocol import StepContext
from adaptfile.steps.train_models import FULL_TRAIN, LORA_TRAIN
from adaptfile.train import data as train_data


def main(method: str, examples: str, out: str, work: str, params: str) -> None:
    train_data.template_renderer = fake_renderer  # the same prompt double as the in-process tests
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
