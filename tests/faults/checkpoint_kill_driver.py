"""`python checkpoint_kill_driver.py WHEN MARKER ADAPT-ARGS…`: the adapt CLI, SIGKILLed by itself at its
first training checkpoint, unless MARKER exists (it is created just before the kill, so the next run goes
through). WHEN: `during` (weights and optimizer saved, trainer state not yet) or `after` (the checkpoint
is complete: the next build resumes from it)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from transformers import Trainer

WHEN, MARKER = sys.argv[1], Path(sys.argv[2])
real_save_rng_state, real_save_checkpoint = Trainer._save_rng_state, Trainer._save_checkpoint


def _kill(where: str) -> None:
    if not MARKER.exists():
        MARKER.write_text(where)
        os.kill(os.getpid(), signal.SIGKILL)


def _save_rng_state(self, output_dir):  # type: ignore[no-untyped-def]
    if WHEN == "during":
        _kill(output_dir)
    return real_save_rng_state(self, output_dir)


def _save_checkpoint(self, model, trial):  # type: ignore[no-untyped-def]
    real_save_checkpoint(self, model, trial)
    if WHEN == "after":
        _kill(self.args.output_dir)


Trainer._save_rng_state = _save_rng_state  # type: ignore[method-assign]
Trainer._save_checkpoint = _save_checkpoint  # type: ignore[method-assign]

from adaptfile.cli import main  # noqa: E402

main(sys.argv[3:])
