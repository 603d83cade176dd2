"""Pin a hub repository's revision (branch, tag or commit) to a 40-hex commit, online or from the cache."""

from __future__ import annotations

from dataclasses import dataclass

from adaptfile.errors import ConfigError
from adaptfile.hub.cache import cached_file, cached_ref, is_commit


class HubUnreachable(ConfigError):
    """The hub could not be asked (offline, no network) and the local cache lacks what was needed."""


@dataclass(frozen=True)
class HubPin:
    """A hub repository at one commit; `upstream` is what `revision` points at on the hub, when asked."""

    repo: str
    revision: str  # as written in adapt.toml: "main", a tag, or a commit
    commit: str  # 40 hex
    source: str  # "commit" (written as one) | "lock" | "hub" | "cache"
    upstream: str | None = None
    files: tuple[str, ...] = ()  # the repository's files at the commit, when the hub was asked

    @property
    def moved(self) -> bool:
        """The branch or tag now points at another commit than the one pinned."""
        return self.upstream is not None and self.upstream != self.commit

    def moved_note(self, key: str) -> str:
        return (
            f"{key} = {self.repo!r} is pinned to {self.commit[:7]}; {self.revision} is now "
            f"{(self.upstream or '')[:7]}: adapt build --upgrade"
        )


def pin_repo(
    repo: str,
    revision: str,
    *,
    key: str,
    locked: str | None = None,
    upgrade: bool = False,
    check_upstream: bool = False,
    prefer_cache: bool = False,
    required: bool = True,
) -> HubPin | None:
    """The commit to use: a commit as written, else the locked one (unless `upgrade`), else the hub's
    answer, else the cache's ref (the cache first with `prefer_cache`). None or an error when unknown."""
    if is_commit(revision):
        return HubPin(repo, revision, revision, "commit")
    if locked and not upgrade:
        upstream = remote_commit(repo, revision, key) if check_upstream else None
        return HubPin(repo, revision, locked, "lock", upstream[0] if upstream else None)
    if prefer_cache and (cached := cached_ref(repo, revision)):
        return HubPin(repo, revision, cached, "cache")
    if answer := remote_commit(repo, revision, key):
        return HubPin(repo, revision, answer[0], "hub", answer[0], answer[1])
    if cached := cached_ref(repo, revision):
        return HubPin(repo, revision, cached, "cache")
    if not required:
        return None
    raise HubUnreachable(
        f"{key} = {repo!r}: cannot resolve revision {revision!r}: the hub is not reachable "
        "(offline or no network) and the local cache has no copy",
        hint=f"run `hf download {repo} --revision {revision}` where the hub is reachable, "
        "or point the key at a local model directory",
    )


def remote_commit(repo: str, revision: str, key: str) -> tuple[str, tuple[str, ...]] | None:
    """(commit, file names) of `revision` on the hub; None when offline or unreachable."""
    from huggingface_hub import HfApi, constants

    if constants.is_offline_mode():
        return None
    try:
        info = HfApi().model_info(repo, revision=revision)
    except Exception as err:
        if unreachable(err):
            return None
        raise hub_error(err, repo, revision, key) from None
    files = tuple(sorted(s.rfilename for s in info.siblings or ()))
    return str(info.sha), files


def fetch_file(repo: str, commit: str, filename: str, key: str) -> str | None:
    """A file of the repo at `commit`: from the cache, else downloaded; None when offline or unreachable."""
    if path := cached_file(repo, commit, filename):
        return path
    from huggingface_hub import constants, hf_hub_download

    if constants.is_offline_mode():
        return None
    try:
        return hf_hub_download(repo, filename, revision=commit)
    except Exception as err:
        if unreachable(err):
            return None
        if type(err).__name__ in ("RemoteEntryNotFoundError", "EntryNotFoundError"):
            raise ConfigError(
                f"{key} = {repo!r}: the repository has no {filename} at commit {commit[:7]}",
                hint="point the key at a transformers model repository (config.json, tokenizer, "
                "*.safetensors)",
            ) from None
        raise hub_error(err, repo, commit, key) from None


def require_available(pin: HubPin, key: str, filename: str = "config.json") -> str:
    """The pinned commit's `filename`; an error naming the repo, the commit and the command that fetches
    it when it can be neither read from the cache nor downloaded."""
    path = fetch_file(pin.repo, pin.commit, filename, key)
    if path is None:
        raise HubUnreachable(
            f"{key} = {pin.repo!r}: commit {pin.commit} is not in the local cache and the hub cannot be "
            "reached",
            hint=f"run `hf download {pin.repo} --revision {pin.commit}` where the hub is reachable, "
            "or `adapt build --upgrade` to pin what the cache has",
        )
    return path


def unreachable(err: BaseException) -> bool:
    """A network failure (no route, DNS, timeout, offline mode) rather than an answer from the hub."""
    if type(err).__name__.endswith("HTTPError") and hasattr(err, "response"):
        return False  # the hub answered with an HTTP status: not a network failure
    module = type(err).__module__.split(".")[0]
    return isinstance(err, ConnectionError | TimeoutError) or module in ("httpx", "httpx2", "httpcore")


def hub_error(err: BaseException, repo: str, revision: str, key: str) -> ConfigError:
    """An HTTP answer of the hub as a one-line error naming the key and the fix."""
    from huggingface_hub import constants

    name = type(err).__name__
    status = getattr(getattr(err, "response", None), "status_code", None)
    page = f"{constants.ENDPOINT.rstrip('/')}/{repo}"
    if name == "GatedRepoError":
        return ConfigError(
            f"{key} = {repo!r}: gated or private: the hub refused access (HTTP {status or 401})",
            hint=f"accept the license at {page} and set HF_TOKEN (or run `hf auth login`)",
        )
    if name == "RepositoryNotFoundError":
        return ConfigError(
            f"{key} = {repo!r}: no such repository on {constants.ENDPOINT}, or it is gated or private",
            hint="check the spelling of the id (organisation/name); if it is gated or private, accept "
            f"the license at {page} and set HF_TOKEN",
        )
    if status in (401, 403):
        return ConfigError(
            f"{key} = {repo!r}: gated or private: the hub refused access (HTTP {status})",
            hint=f"accept the license at {page} and set HF_TOKEN (or run `hf auth login`)",
        )
    if name == "RevisionNotFoundError":
        where = "model.revision" if key == "model.base" else f"{key} revision"
        return ConfigError(
            f"{where} = {revision!r}: no such branch, tag or commit in {repo!r}",
            hint=f"set the revision to a branch, tag or commit listed at {page}",
        )
    return ConfigError(
        f"{key} = {repo!r}: the hub answered with an error: {str(err).splitlines()[0]}",
        hint="retry later, or point the key at a local model directory",
    )
