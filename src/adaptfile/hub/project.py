"""A project's hub pins (base model, embedder): from adapt.lock, the hub, or the local cache, by purpose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from adaptfile.config.model import AdaptConfig
from adaptfile.errors import ConfigError
from adaptfile.hub.cache import looks_like_repo_id
from adaptfile.hub.pin import HubPin, HubUnreachable, pin_repo, require_available

Purpose = Literal["plan", "build", "status"]


@dataclass(frozen=True)
class ProjectPins:
    """The commits a build uses for its hub repositories (None: not a hub repository, or unknown)."""

    model: HubPin | None = None
    embedder: HubPin | None = None
    unresolved: tuple[tuple[str, ConfigError], ...] = ()  # (key, why) a build could not pin; raised if needed

    def lock_model(self, config: AdaptConfig) -> dict[str, str]:
        """adapt.lock's "model" entry."""
        entry = {"base": config.model.base, "revision": config.model.revision}
        return {**entry, "commit": self.model.commit} if self.model else entry

    def lock_embedder(self) -> dict[str, str]:
        """adapt.lock's "embed_model" entry: only for an embedder pinned on the hub."""
        if self.embedder is None:
            return {}
        return {
            "name": self.embedder.repo,
            "revision": self.embedder.revision,
            "commit": self.embedder.commit,
        }

    def moved(self) -> list[str]:
        """One line per pin whose branch or tag has moved on the hub since it was locked."""
        keys = (("model.base", self.model), ("rag.embed_model", self.embedder))
        return [pin.moved_note(key) for key, pin in keys if pin is not None and pin.moved]


def pin_project(
    config: AdaptConfig, root: Path, lock: dict[str, Any] | None, purpose: Purpose, upgrade: bool = False
) -> ProjectPins:
    """Pins for `purpose`: "build" resolves (the lock first, unless `upgrade`) and fails when it cannot;
    "plan" reads what is known locally before asking the hub and may return none; "status" also asks the
    hub where each locked branch points now."""
    lock = lock or {}
    options: dict[str, Any] = {
        "plan": {"prefer_cache": True, "required": False},
        "build": {"upgrade": upgrade},
        "status": {"check_upstream": True, "required": False},
    }[purpose]
    model = embedder = None
    unresolved: list[tuple[str, ConfigError]] = []
    base, name = config.model.base, config.rag.embed_model
    if _is_hub_repo(base, root):
        locked = _locked(lock.get("model"), base=base, revision=config.model.revision)
        model = _pin(
            base, config.model.revision, "model.base", "config.json", locked, purpose, options, unresolved
        )
    if _uses_embedder(config) and _is_hub_repo(name, root) and not _packaged(name):
        locked = _locked(lock.get("embed_model"), name=name, revision="main")
        embedder = _pin(name, "main", "rag.embed_model", "modules.json", locked, purpose, options, unresolved)
    return ProjectPins(model, embedder, tuple(unresolved))


def _pin(
    repo: str,
    revision: str,
    key: str,
    needed: str,
    locked: str | None,
    purpose: Purpose,
    options: dict[str, Any],
    unresolved: list[tuple[str, ConfigError]],
) -> HubPin | None:
    """One repository's pin. A build may go on without a pin the unreachable hub cannot give until a step
    that reads that repository is selected (recorded in `unresolved`); every answer of the hub (no such
    repo, gated) fails at once."""
    try:
        pin = pin_repo(repo, revision, key=key, locked=locked, **options)
        if purpose == "build" and pin is not None:
            require_available(pin, key, needed)
        return pin
    except HubUnreachable as err:
        if purpose != "build":
            raise
        unresolved.append((key, err))
        return None


def _is_hub_repo(name: str, root: Path) -> bool:
    return name != "scratch" and not (root / name).exists() and looks_like_repo_id(name)


def _packaged(name: str) -> bool:
    from adaptfile.knowledge.embedders import packaged_version

    return packaged_version(name) is not None


def _uses_embedder(config: AdaptConfig) -> bool:
    """Knowledge to index, or examples ranked by embeddings (icl.selection similar/diverse)."""
    examples = config.data.examples is not None and config.icl.selection in ("similar", "diverse")
    return config.data.knowledge is not None or examples


def _locked(entry: Any, **expected: str) -> str | None:
    """The locked commit when the lock's entry is for the same repository and revision as adapt.toml."""
    if not isinstance(entry, dict) or any(entry.get(k) != v for k, v in expected.items()):
        return None
    commit = entry.get("commit")
    return commit if isinstance(commit, str) else None
