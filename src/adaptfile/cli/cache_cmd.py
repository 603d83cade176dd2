"""`adapt cache status|push|pull|gc`: the shared build cache of [cache] remote, moved explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from adaptfile.cli.app import App, pass_app
from adaptfile.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from adaptfile.config import Project
    from adaptfile.engine.remote import RemoteCache
    from adaptfile.engine.remote_sync import CacheRow
    from adaptfile.engine.reporter import Reporter

EPILOG = """Examples:

  adapt cache status                 # which steps each cache holds

  adapt cache push                   # upload what this machine built

  adapt cache pull rag.index         # download one step (and what it needs)

  adapt cache gc --remote --keep-lock adapt.lock --dry-run
"""


def remote_cache(project: Project, enabled: bool = True, push: bool = True) -> RemoteCache | None:
    """The [cache] remote of adapt.toml (None without one, or with --no-remote; `push` False: --no-push);
    a relative directory is relative to adapt.toml. Opening it (and importing fsspec) waits until it
    is first used."""
    from adaptfile.config.model import remote_scheme

    config = project.config.cache
    if not enabled or config.remote is None:
        return None
    from adaptfile.engine.remote import RemoteCache, RemoteSettings

    url = config.remote
    if not remote_scheme(url):
        url = str((project.root / Path(url).expanduser()).resolve())
    return RemoteCache(RemoteSettings(url=url, push=config.push and push, endpoint_url=config.endpoint_url))


def _required_remote(app: App) -> tuple[Project, RemoteCache]:
    project = app.project()
    remote = remote_cache(project)
    if remote is None:
        raise ConfigError(
            f"{project.path}: no [cache] remote is configured",
            hint='add [cache] remote = "s3://bucket/prefix" (or a shared directory) to adapt.toml',
        )
    return project, remote


@click.group("cache", epilog=EPILOG)
def command() -> None:
    """Show and move build-cache entries between this machine and [cache] remote."""


def _planned_remote(app: App) -> tuple[Any, Any, Any, Any]:
    """(project, remote, the plan's steps, lock metadata) for a command that needs [cache] remote."""
    from adaptfile.cli.build_cmd import planned

    project, remote = _required_remote(app)
    plan, meta, _ = planned(project)
    return project, remote, plan.steps, meta


@command.command("status", epilog="Example:\n\n  adapt cache status --json")
@click.argument("steps", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON object.")
@pass_app
def status_command(app: App, steps: tuple[str, ...], as_json: bool) -> None:
    """Each step's key and whether the local and the remote cache hold it."""
    from adaptfile.engine.remote_sync import cache_status

    project, remote, specs, meta = _planned_remote(app)
    rows = cache_status(project.root, specs, meta, remote, steps)
    _show(app, rows, as_json, remote.settings.url)


@command.command("push", epilog="Examples:\n\n  adapt cache push\n\n  adapt cache push lora.train")
@click.argument("steps", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON object.")
@pass_app
def push_command(app: App, steps: tuple[str, ...], as_json: bool) -> None:
    """Upload the local entries of STEPS (default: all) that the remote lacks."""
    from adaptfile.engine.remote_sync import push

    project, remote, specs, meta = _planned_remote(app)
    rows = push(project.root, specs, meta, remote, steps, _progress(app, as_json))
    _show(app, rows, as_json, remote.settings.url)


@command.command("pull", epilog="Examples:\n\n  adapt cache pull && adapt build   # builds nothing")
@click.argument("steps", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON object.")
@pass_app
def pull_command(app: App, steps: tuple[str, ...], as_json: bool) -> None:
    """Download the remote entries of STEPS (default: all) into the local cache."""
    from adaptfile.engine.remote_sync import pull

    project, remote, specs, meta = _planned_remote(app)
    rows = pull(project.root, specs, meta, remote, steps, _progress(app, as_json))
    _show(app, rows, as_json, remote.settings.url)


@command.command(
    "gc",
    epilog="Examples:\n\n  adapt cache gc --remote --keep-lock adapt.lock --dry-run\n\n"
    "  adapt cache gc --remote --keep-lock adapt.lock --keep-lock ../release/adapt.lock",
)
@click.option("--remote", "remote_flag", is_flag=True, help="Required: this deletes from the remote cache.")
@click.option(
    "--keep-lock",
    "keep_locks",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep every entry this adapt.lock names (repeatable; at least one).",
)
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Keep unreferenced files younger than this many seconds (a push may be in flight).",
)
@click.option("-n", "--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@pass_app
def gc_command(
    app: App, remote_flag: bool, keep_locks: tuple[Path, ...], min_age: float, dry_run: bool, as_json: bool
) -> None:
    """Delete remote entries that no given lock file references (`adapt gc` never touches the remote)."""
    from adaptfile.cli.clean_cmd import human_bytes
    from adaptfile.engine.remote_sync import lock_keys

    if not remote_flag:
        raise UsageError(
            "adapt cache gc deletes remote entries: pass --remote", hint="`adapt gc` cleans the local cache"
        )
    if not keep_locks:
        raise UsageError("adapt cache gc --remote needs --keep-lock FILE", hint="e.g. --keep-lock adapt.lock")
    _, remote = _required_remote(app)
    keep = lock_keys(keep_locks)
    removed, files, freed = remote.collect_garbage(keep, min_age, dry_run)
    if as_json:
        app.echo_json(
            {
                "dry_run": dry_run,
                "removed": removed,
                "files_removed": files,
                "bytes_freed": freed,
                "kept_keys": len(keep),
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(removed)} remote entries and {files} files ({human_bytes(freed)}) from {remote.settings.url}"
    )


def _progress(app: App, as_json: bool) -> Reporter:
    """Byte bars on a terminal; nothing in --json mode, whose output is one object."""
    from adaptfile.cli.build_cmd import make_reporter
    from adaptfile.engine.reporter import Reporter

    return Reporter() if as_json else make_reporter(app, as_json=False)


def _show(app: App, rows: list[CacheRow], as_json: bool, url: str) -> None:
    if as_json:
        app.echo_json({"remote": url, "steps": [row.as_json() for row in rows]})
        return
    from adaptfile.cli.clean_cmd import human_bytes

    width = max((len(row.step_id) for row in rows), default=4)
    click.echo(f"{'step':<{width}}  local  remote  key           {url}")
    for row in rows:
        key = row.key[:12] if row.key else "?"
        line = f"{row.step_id:<{width}}  {_yes(row.local):<5}  {_yes(row.remote):<6}  {key:<12}"
        if row.action in ("pushed", "pulled"):
            line += f"  {row.action} ({human_bytes(row.bytes)})"
        elif row.note:
            line += f"  {row.note}"
        click.echo(line.rstrip())
    moved = [row for row in rows if row.action in ("pushed", "pulled")]
    if moved:
        click.echo(f"{moved[0].action} {len(moved)} entries ({human_bytes(sum(r.bytes for r in moved))})")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
