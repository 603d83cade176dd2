"""The Hugging Face Hub: pin a repo's revision to a commit, read the local cache, name hub errors."""

from adaptfile.hub.cache import cached_file, cached_ref, is_commit, looks_like_repo_id
from adaptfile.hub.pin import HubPin, fetch_file, pin_repo, remote_commit, require_available

__all__ = [
    "HubPin",
    "cached_file",
    "cached_ref",
    "fetch_file",
    "is_commit",
    "looks_like_repo_id",
    "pin_repo",
    "remote_commit",
    "require_available",
]
