"""ML-agnostic make: step keys, content-addressed store, stat cache, lock file, executor, reporter."""

from adaptfile.engine.assess import StepStatus
from adaptfile.engine.cleanup import GcResult, clean, collect_garbage
from adaptfile.engine.executor import BuildOptions, BuildResult, StepOutcome, build, dry_run
from adaptfile.engine.lockfile import LockMeta
from adaptfile.engine.protocol import FunctionKind, StepContext, StepKind
from adaptfile.engine.registry import register, resolve
from adaptfile.engine.status import status

__all__ = [
    "BuildOptions",
    "BuildResult",
    "FunctionKind",
    "GcResult",
    "LockMeta",
    "StepContext",
    "StepKind",
    "StepOutcome",
    "StepStatus",
    "build",
    "clean",
    "collect_garbage",
    "dry_run",
    "register",
    "resolve",
    "status",
]
