"""The one exception root, with one exit code per situation (docs/errors.md) and a hint on every error."""

from __future__ import annotations

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3


class AdaptError(Exception):
    """Base of every error adaptfile shows to a user; `hint` says how to fix it."""

    exit_code = EXIT_CONFIG

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The message a person reads: what went wrong, then how to fix it."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(AdaptError):
    """adapt.toml (or a file it names) is missing, unreadable or invalid."""


class PlanError(AdaptError):
    """The configuration is valid but asks for something that cannot work."""


class UsageError(AdaptError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class NotBuilt(AdaptError):
    """What the command reads (build/manifest.json, a variant, the RAG index, the report) is not built yet:
    a usage error (run `adapt build` first), like every other command called out of order."""

    exit_code = EXIT_USAGE


class StepFailed(AdaptError):
    """A build step raised; its log says why."""

    exit_code = EXIT_STEP_FAILED
