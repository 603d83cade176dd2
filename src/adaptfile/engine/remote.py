"""A build cache shared between machines, on any fsspec storage (a directory, s3://, gs://, az://).

Layout under the remote URL:

    entries/<key[:2]>/<key>.json   the entry's meta.json (the same document as the local store's);
                                   written last, so an entry exists only once all its files do
    files/<sha256[:2]>/<sha256>    each output file, addressed by its content

Content-addressed files make concurrent pushers safe: two machines pushing the same key write the
same bytes to the same file names, and whichever metadata object lands last names files that are
all there. fsspec is imported on first use only: a build whose steps are all fresh never loads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from adaptfile.engine.hashing import file_digest
from adaptfile.engine.keys import step_key
from adaptfile.engine.store import META_SCHEMA, Entry, Store, output_digests
from adaptfile.errors import EXIT_STEP_FAILED, AdaptError, ConfigError

# URL scheme → (the fsspec backend's distribution, the adaptfile extra that installs it)
BACKENDS = {
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class RemoteUnavailable(AdaptError):
    """The remote cache could not be reached or answered with an error (a build goes on locally)."""

    exit_code = EXIT_STEP_FAILED


class RemoteMisconfigured(ConfigError):
    """The remote cache cannot work as configured: no backend, no bucket, credentials refused."""


REMOTE_ERRORS = (RemoteUnavailable, RemoteMisconfigured)


class RemoteCorrupt(Exception):
    """A remote entry whose files do not match its metadata: a miss, never a wrong output."""


@dataclass(frozen=True)
class RemoteSettings:
    """Where the shared cache is and how to talk to it; `url` is a URL or an absolute directory."""

    url: str
    push: bool = True
    endpoint_url: str | None = None
    part_bytes: int = 16 << 20  # multipart upload and ranged download part size
    parallel: int = 8  # files transferred at once (and parts at once within a large file)

    @property
    def scheme(self) -> str:
        match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", self.url)
        return match.group(1).lower() if match else ""


@dataclass
class RemoteCache:
    """One remote store, opened lazily. After a failure during a build, `disabled` holds the reason and
    the build carries on with the local cache only (the caller warns once)."""

    settings: RemoteSettings
    disabled: str | None = None
    repair: set[str] = field(default_factory=set)  # keys whose remote entry was corrupt: push overwrites
    _fs: Any = None
    _root: str = ""

    @property
    def usable(self) -> bool:
        return self.disabled is None

    @property
    def can_push(self) -> bool:
        return self.usable and self.settings.push

    # -- reading ---------------------------------------------------------------------------------
    def lookup(self, key: str) -> dict[str, Any] | None:
        """The metadata of the remote entry for `key`; None when there is none, RemoteCorrupt when it is
        malformed."""
        with self._errors():
            fs, path = self._open(), self._meta_path(key)
            try:
                raw = fs.cat_file(path)
            except FileNotFoundError:
                return None
        try:
            return checked_meta(json.loads(raw), key)
        except (ValueError, RemoteCorrupt) as err:
            self.repair.add(key)  # the next push of this key overwrites the bad entry
            if isinstance(err, RemoteCorrupt):
                raise
            raise RemoteCorrupt("its metadata is not valid JSON") from None

    def fetch(self, key: str, store: Store, outputs: dict[str, bool], progress: Progress) -> Entry | None:
        """Download the entry for `key` into the local store, verifying every file's digest.
        None when the remote has no entry; RemoteCorrupt when it has a bad one."""
        meta = self.lookup(key)
        if meta is None:
            return None
        if set(meta["outputs"]) != set(outputs):
            self.repair.add(key)
            raise RemoteCorrupt(f"its outputs {sorted(meta['outputs'])} are not the step's {sorted(outputs)}")
        staging = store.staging(key)
        try:
            for name, is_dir in outputs.items():
                if is_dir:  # a directory output may hold no file
                    (staging / "out" / name).mkdir(parents=True, exist_ok=True)
            files: dict[str, str] = meta["files"]
            jobs = [(self._blob_path(d), staging / "out" / rel) for rel, d in files.items()]
            with self._errors():
                self._transfer("get", jobs, progress)
            for rel, digest in files.items():
                if file_digest(staging / "out" / rel) != digest:
                    self.repair.add(key)
                    raise RemoteCorrupt(f"file out/{rel} does not match its digest")
            volatile = meta.get("volatile", {})
            actual = output_digests(files, outputs)
            expected = {**meta["outputs"], **volatile}
            if actual != expected:
                self.repair.add(key)
                raise RemoteCorrupt("its output digests do not match its files")
            return store.install(staging, key, meta)
        except FileNotFoundError as err:
            self.repair.add(key)
            raise RemoteCorrupt(f"a file is missing ({err})") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already when the entry was installed

    def keys(self) -> list[str]:
        """Every key with a metadata object on the remote."""
        with self._errors():
            fs = self._open()
            try:
                paths = fs.find(f"{self._root}/entries")
            except FileNotFoundError:
                return []
        return sorted(name[:-5] for name in (p.rsplit("/", 1)[-1] for p in paths) if name.endswith(".json"))

    # -- writing ---------------------------------------------------------------------------------
    def push(self, entry: Entry, progress: Progress, overwrite: bool = False) -> int | None:
        """Upload an entry's files, then its metadata; None when the remote already has it.
        Returns the bytes uploaded (files the remote already holds are not sent again)."""
        overwrite = overwrite or entry.key in self.repair
        with self._errors():
            fs = self._open()
            meta_path = self._meta_path(entry.key)
            if not overwrite and fs.exists(meta_path):
                return None
            by_digest = {d: entry.out / rel for rel, d in sorted(entry.meta["files"].items())}
            targets = {d: self._blob_path(d) for d in by_digest}
            if not overwrite:
                targets = {d: p for d, p in targets.items() if not fs.exists(p)}
            jobs = [(by_digest[d], p) for d, p in targets.items()]
            self._transfer("put", jobs, progress)
            data = (json.dumps(entry.meta, sort_keys=True, indent=1) + "\n").encode()
            self._write_bytes(meta_path, data)
        self.repair.discard(entry.key)
        return sum(os.path.getsize(local) for local, _ in jobs)

    def collect_garbage(self, keep: set[str], min_age_s: float, dry_run: bool) -> tuple[list[str], int, int]:
        """Delete entries whose key is not in `keep`, then the files no remaining entry names and that
        are older than `min_age_s` (a push in flight uploads its files before its metadata).
        Returns (removed keys, removed files, bytes freed)."""
        removed = [key for key in self.keys() if key not in keep]
        with self._errors():
            fs = self._open()
            if not dry_run:
                for key in removed:
                    fs.rm_file(self._meta_path(key))
            named: set[str] = set()
            for key in self.keys() if not dry_run else [k for k in self.keys() if k in keep]:
                with contextlib.suppress(RemoteCorrupt):
                    meta = self.lookup(key)
                    named |= set(meta["files"].values()) if meta else set()
            try:
                blobs = fs.find(f"{self._root}/files", detail=True)
            except FileNotFoundError:
                blobs = {}
            now, count, freed = time.time(), 0, 0
            for path, info in blobs.items():
                digest = path.rsplit("/", 1)[-1]
                if digest in named or now - _modified(info) < min_age_s:
                    continue
                count, freed = count + 1, freed + int(info.get("size") or 0)
                if not dry_run:
                    fs.rm_file(path)
        return removed, count, freed

    # -- plumbing --------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._fs is not None:
            return self._fs
        scheme = self.settings.scheme
        try:
            import fsspec
        except ImportError:
            raise RemoteMisconfigured(
                "the remote cache needs fsspec, which is not installed", hint="pip install fsspec"
            ) from None
        backend, extra = BACKENDS.get(scheme, ("", ""))
        try:
            fs, root = fsspec.core.url_to_fs(self.settings.url, **self._options())
        except ImportError:
            raise RemoteMisconfigured(
                f"[cache] remote = '{self.settings.url}' needs the {backend} package",
                hint=f"pip install 'adaptfile[{extra}]'",
            ) from None
        root = root.rstrip("/")
        self._check_root(fs, root)
        self._fs, self._root = fs, root
        return fs

    def _options(self) -> dict[str, Any]:
        if self.settings.scheme != "s3":
            return {}
        options: dict[str, Any] = {
            "max_concurrency": self.settings.parallel,
            "use_listings_cache": False,
            "config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}},
        }
        endpoint = self.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
        return options

    def _check_root(self, fs: Any, root: str) -> None:
        """The directory or bucket must exist: a typo must not pass for an empty cache."""
        if self._is_local(fs):
            if not fs.isdir(root):
                raise RemoteMisconfigured(
                    f"remote cache directory {root} does not exist",
                    hint=f"create it (mkdir -p {root}) or fix [cache] remote in adapt.toml",
                )
            return
        bucket = root.split("/", 1)[0]
        try:
            fs.info(bucket)
        except FileNotFoundError:
            raise RemoteMisconfigured(
                f"bucket '{bucket}' of [cache] remote = '{self.settings.url}' does not exist",
                hint="create the bucket, or fix [cache] remote (and endpoint_url) in adapt.toml",
            ) from None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn a backend's exceptions into a RemoteUnavailable or RemoteMisconfigured with the URL."""
        try:
            yield
        except (AdaptError, RemoteCorrupt, FileNotFoundError):
            raise
        except PermissionError as err:
            raise RemoteMisconfigured(
                f"[cache] remote = '{self.settings.url}': access denied ({_short(err)})",
                hint="check the credentials in the backend's standard chain (e.g. AWS_ACCESS_KEY_ID, "
                "AWS_PROFILE, ~/.aws/credentials) and their permissions on the bucket",
            ) from None
        except Exception as err:  # an I/O boundary: every backend error means "unreachable" here
            raise RemoteUnavailable(
                f"remote cache '{self.settings.url}' is unreachable ({type(err).__name__}: {_short(err)})",
                hint="check the network and [cache] remote / endpoint_url, or run with --no-remote",
            ) from None

    def _transfer(self, direction: str, jobs: list[tuple[Any, Any]], progress: Progress) -> None:
        """Copy files in parallel ("get": remote → local, "put": local → remote) with byte progress;
        large files stream in parts (s3fs: concurrent multipart upload and ranged download)."""
        fs = self._open()
        local = [Path(a if direction == "put" else b) for a, b in jobs]
        sizes = [os.path.getsize(p) for p in local] if direction == "put" else None
        if sizes is None:
            sizes = [int(fs.size(src)) for src, _ in jobs]
        meter = _Meter(sum(sizes), progress)
        extra = {"chunksize": self.settings.part_bytes} if self.settings.scheme == "s3" else {}

        def one(index: int) -> None:
            src, dst = jobs[index]
            callback = meter.callback()
            if direction == "get":
                Path(dst).parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(src, str(dst), callback=callback, **extra)
            else:
                self._put_file(fs, str(src), dst, callback, extra)
            meter.finish(callback, sizes[index])

        if not jobs:
            return
        with ThreadPoolExecutor(max_workers=min(self.settings.parallel, len(jobs))) as pool:
            for future in [pool.submit(one, i) for i in range(len(jobs))]:
                future.result()

    def _put_file(self, fs: Any, local: str, remote: str, callback: Any, extra: dict[str, Any]) -> None:
        if self._is_local(fs):  # a shared disk: write aside, then rename, so no reader sees half a file
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            aside = f"{remote}.{uuid.uuid4().hex}.tmp"
            try:
                fs.put_file(local, aside, callback=callback)
                fs.mv(aside, remote)
            finally:
                with contextlib.suppress(OSError):
                    fs.rm_file(aside)
        else:  # an object store: an object appears whole or not at all
            fs.put_file(local, remote, callback=callback, **extra)

    def _write_bytes(self, path: str, data: bytes) -> None:
        fs = self._open()
        if self._is_local(fs):
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            aside = f"{path}.{uuid.uuid4().hex}.tmp"
            fs.pipe_file(aside, data)
            fs.mv(aside, path)
        else:
            fs.pipe_file(path, data)

    @staticmethod
    def _is_local(fs: Any) -> bool:
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(fs, LocalFileSystem)

    def _meta_path(self, key: str) -> str:
        return f"{self._root}/entries/{key[:2]}/{key}.json"

    def _blob_path(self, digest: str) -> str:
        return f"{self._root}/files/{digest[:2]}/{digest}"


def checked_meta(meta: Any, key: str) -> dict[str, Any]:
    """The remote metadata if it is well-formed for `key`: its key parts hash to `key`, and its file
    names stay inside the entry. RemoteCorrupt otherwise."""
    if not isinstance(meta, dict) or meta.get("schema") != META_SCHEMA or meta.get("key") != key:
        raise RemoteCorrupt("its metadata is not for this key")
    parts, files, outputs = meta.get("parts"), meta.get("files"), meta.get("outputs")
    if not isinstance(parts, dict) or not isinstance(files, dict) or not isinstance(outputs, dict):
        raise RemoteCorrupt("its metadata is incomplete")
    try:
        if step_key(parts) != key:
            raise RemoteCorrupt("its key parts do not hash to its key")
    except (KeyError, TypeError, ValueError):
        raise RemoteCorrupt("its key parts are malformed") from None
    for rel, digest in files.items():
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not _DIGEST.match(str(digest)):
            raise RemoteCorrupt(f"it names a bad file {rel!r}")
    return meta


class _Meter:
    """Bytes moved by parallel transfers, reported at most ten times a second."""

    def __init__(self, total: int, progress: Progress) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.lock = threading.Lock()
        self.shown = 0.0

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            now = time.monotonic()
            if now - self.shown >= 0.1 or self.done >= self.total:
                self.shown = now
                self.progress(self.done, self.total)

    def callback(self) -> Any:
        from fsspec.callbacks import Callback

        meter = self

        class _Counted(Callback):
            def __init__(self) -> None:
                super().__init__()
                self.moved = 0  # bytes already passed on to the meter

            def call(self, *args: Any, **kwargs: Any) -> None:
                if self.value > self.moved:
                    meter.add(self.value - self.moved)
                    self.moved = self.value

        return _Counted()

    def finish(self, callback: Any, size: int) -> None:
        """A backend that does not report bytes (a local copy) counts the whole file once it is done."""
        if size > callback.moved:
            self.add(size - callback.moved)
            callback.moved = size


def _modified(info: dict[str, Any]) -> float:
    """A listing entry's modification time as a Unix timestamp (backends name it differently)."""
    for name in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        with contextlib.suppress(ValueError):
            from datetime import datetime

            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return 0.0


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:199] + "…"
