"""Errors the build engine shows to a user, each with the exit code of its phase and a fix."""

from __future__ import annotations

from adaptfile.errors import EXIT_STEP_FAILED, AdaptError, ConfigError, PlanError

EXIT_INTERRUPTED = 130


class UnknownStepKind(PlanError):
    """A step names a kind that no built-in module or installed plugin implements."""


class MissingInput(ConfigError):
    """A step's input names a file that does not exist."""


class BuildLocked(AdaptError):
    """Another `adapt build` holds the project lock and --no-wait was given."""

    exit_code = EXIT_STEP_FAILED


class BuildInterrupted(AdaptError):
    """SIGINT or SIGTERM stopped the build; nothing half-written was kept."""

    exit_code = EXIT_INTERRUPTED


class FrozenMismatch(AdaptError):
    """`--frozen` and the build would change adapt.lock."""

    exit_code = EXIT_STEP_FAILED


class StaleSteps(AdaptError):
    """`adapt status --check` found steps that need a rebuild."""

    exit_code = EXIT_STEP_FAILED
