"""`constraints.local_only`: the features that send project data off this machine are plan errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adaptfile.errors import PlanError

if TYPE_CHECKING:
    from adaptfile.config.model import AdaptConfig

# Everything adaptfile can do that sends project data (documents, examples, outputs) off the machine.
# docs/cache.md lists the same; a new feature that sends data away must be added here and there.
OFFSITE_FEATURES = (
    "[cache] remote on anything but a local path (s3://, gs://, az://)",
    "adapt serve --host beyond loopback (answers derived from the data reach other machines)",
)


def check_local_only(config: AdaptConfig) -> None:
    """Raise a PlanError when local_only is set and the configuration sends data off the machine."""
    from adaptfile.config.model import remote_scheme

    if not config.constraints.local_only or config.cache.remote is None:
        return
    scheme = remote_scheme(config.cache.remote)
    if scheme not in ("", "file"):
        raise PlanError(
            f"cache.remote = '{config.cache.remote}' sends build outputs off this machine, "
            "but constraints.local_only = true",
            hint="use a directory path for [cache] remote (a shared disk), remove it, "
            "or set constraints.local_only = false",
        )


def check_serve_host(config: AdaptConfig, host: str, loopback: bool) -> None:
    """`adapt serve --host` beyond loopback under local_only is a plan error."""
    if config.constraints.local_only and not loopback:
        raise PlanError(
            f"--host {host} serves the model to other machines, but constraints.local_only = true",
            hint="serve on 127.0.0.1 (the default), or set constraints.local_only = false",
        )
