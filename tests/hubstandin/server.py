"""A Hugging Face Hub stand-in: the part of the Hub HTTP API that huggingface_hub and transformers call.

A real HTTP server on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread). It answers the way the Hub does,
as huggingface_hub 2.x reads it (file_download.get_hf_file_metadata, utils/_http.hf_raise_for_status):

  GET  /api/models/{repo}[/revision/{rev}]     model info: id, sha, siblings, private, gated, safetensors, ...
  GET  /api/models/{repo}/tree/{rev}[/{path}]  file listing (?recursive=true), as snapshot_download reads it
  POST /api/models/{repo}/paths-info/{rev}     info on given paths (form field `paths`, repeated)
  GET  /api/models/{repo}/refs                 branches and tags
  GET  /api/agent-harnesses                    an empty registry (huggingface_hub fetches it for its user-agent)
  HEAD /{repo}/resolve/{rev}/{path}            X-Repo-Commit, ETag, Content-Length (+ X-Linked-* for LFS files)
  GET  /{repo}/resolve/{rev}/{path}            the bytes (Range supported)

Errors carry X-Error-Code / X-Error-Message like the Hub: RepoNotFound (401 without a token, 404 with one:
the Hub does not reveal private repos), RevisionNotFound and EntryNotFound (404; EntryNotFound carries
X-Repo-Commit), GatedRepo (401 without a token, 403 with a token that was not granted access), and 401
"Invalid credentials in Authorization header" for a token the server does not know. No redirects: LFS files
are served from the resolve URL itself with the headers the Hub puts on its redirect.
Hand-written because no library serves the Hub protocol; huggingface_hub only ships the client.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .repo import LFS_POINTER_SIZE, HubRepo, git_blob_sha, is_lfs, safetensors_parameters
from .repo import etag as file_etag


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class HubStandIn:
    """The server and its repositories. Start with `start()`, stop with `stop()` (or use the `hub` fixture)."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.tokens: set[str] = set()  # every token the server accepts as valid credentials
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.unhandled: list[tuple[str, str]] = []  # requests to routes the stand-in does not implement
        self.crashes: list[str] = []  # server-side exceptions (answered 500): a bug in the stand-in
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubStandIn:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        poll = {"poll_interval": 0.02}  # stop() waits up to one poll interval
        threading.Thread(
            target=self._server.serve_forever, kwargs=poll, name="hub-stand-in", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes] | None = None,
        *,
        private: bool = False,
        gated: bool | str = False,
        token: str | None = None,
    ) -> HubRepo:
        """Register `repo_id`; with `files`, make its first commit on `main`. `token` may read it if private/gated."""
        repo = HubRepo(repo_id, private=private, gated=gated)
        if token is not None:
            repo.tokens.add(token)
            self.tokens.add(token)
        if files is not None:
            repo.commit(files, "Initial commit")
        self.repos[repo_id] = repo
        return repo

    def env(self, tmp_path: Path, *, token: str | None = None, offline: bool = False) -> dict[str, str]:
        """The variables a subprocess needs to use the stand-in, with its cache in `tmp_path / "hf"`."""
        env = {"HF_ENDPOINT": self.url, "HF_HOME": str(tmp_path / "hf")}
        if token is not None:
            env["HF_TOKEN"] = token
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        return env

    def subprocess_env(
        self, tmp_path: Path, *, token: str | None = None, offline: bool = False
    ) -> dict[str, str]:
        """os.environ without the developer's own HF_* settings (a token, a cache, offline mode), plus `env()`."""
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HF_", "HUGGINGFACE_", "HUGGING_FACE_")) and k != "TRANSFORMERS_OFFLINE"
        }
        return inherited | self.env(tmp_path, token=token, offline=offline)

    def activate(
        self, monkeypatch, tmp_path: Path, *, token: str | None = None, offline: bool = False
    ) -> Path:
        """Use the stand-in in this process until the test ends (see inprocess.py); return the HF_HOME."""
        from .inprocess import activate

        activate(monkeypatch, self.url, tmp_path / "hf", token=token, offline=offline)
        return tmp_path / "hf"

    # --- request handling (called from the handler threads) ---

    def find_repo(self, segments: list[str]) -> tuple[str, list[str]]:
        """Split path segments into a repo id ("name" or "org/name") and the rest."""
        if len(segments) >= 2 and "/".join(segments[:2]) in self.repos:
            return "/".join(segments[:2]), segments[2:]
        if segments and segments[0] in self.repos:
            return segments[0], segments[1:]
        return ("/".join(segments[:2]), segments[2:]) if len(segments) >= 2 else ("/".join(segments), [])

    def check_access(self, repo_id: str, token: str | None, *, content: bool) -> HubRepo:
        """The repo if `token` may see it (and, with `content`, read its files); else the Hub's error."""
        if token is not None and token not in self.tokens:
            raise HubError(401, None, "Invalid credentials in Authorization header")
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not repo.allows(token)):
            raise HubError(404 if token else 401, "RepoNotFound", "Repository not found")
        if content and repo.gated and not repo.allows(token):
            if token is None:
                message = (
                    f"Access to model {repo_id} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in."
                )
                raise HubError(401, "GatedRepo", message)
            message = (
                f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                f"Visit https://huggingface.co/{repo_id} to ask for access."
            )
            raise HubError(403, "GatedRepo", message)
        return repo

    @staticmethod
    def revision(repo: HubRepo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha


def model_info(repo: HubRepo, sha: str, query: dict[str, list[str]]) -> dict:
    """The JSON of GET /api/models/{repo}[/revision/{rev}], with the fields huggingface_hub's ModelInfo reads."""
    commit = repo.commits[sha]
    blobs = query.get("blobs", ["false"])[0].lower() == "true"
    siblings = []
    for path in sorted(commit.files):
        sibling: dict = {"rfilename": path}
        if blobs:
            sibling |= _file_entry(path, commit.files[path])
            sibling["blobId"] = sibling.pop("oid")
            if "lfs" in sibling:
                sibling["lfs"] = {"sha256": sibling["lfs"]["oid"], "size": sibling["size"]}
                sibling["lfs"]["pointerSize"] = LFS_POINTER_SIZE
            for key in ("type", "path"):
                sibling.pop(key)
        siblings.append(sibling)
    created = repo.commits[next(iter(repo.commits))].date
    info: dict = {
        "_id": git_blob_sha(repo.repo_id.encode())[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
        "sha": sha,
        "lastModified": _iso(commit.date),
        "createdAt": _iso(created),
        "private": repo.private,
        "gated": repo.gated,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "library_name": "transformers",
        "tags": ["transformers", "safetensors", "text-generation"],
        "pipeline_tag": "text-generation",
        "siblings": siblings,
    }
    config = _json_file(commit.files, "config.json")
    if config is not None:
        info["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
        info["tags"].append(config.get("model_type", ""))
    parameters: dict[str, int] = {}
    for path, content in commit.files.items():
        if path.endswith(".safetensors"):
            for dtype, n in safetensors_parameters(content).items():
                parameters[dtype] = parameters.get(dtype, 0) + n
    if parameters:
        info["safetensors"] = {"parameters": parameters, "total": sum(parameters.values())}
    expand = query.get("expand[]", []) + query.get("expand", [])
    if expand:  # the Hub returns only the requested properties (plus the ids)
        info = {k: v for k, v in info.items() if k in {"_id", "id", *expand}}
    return info


def tree(repo: HubRepo, sha: str, prefix: str, recursive: bool) -> list[dict]:
    """Entries under `prefix` (files and directories), like GET /api/models/{repo}/tree/{rev}/{prefix}."""
    files = repo.commits[sha].files
    base = f"{prefix.rstrip('/')}/" if prefix else ""
    if base and not any(p.startswith(base) for p in files):
        if prefix in files:
            return [_file_entry(prefix, files[prefix])]
        raise HubError(404, "EntryNotFound", f"{prefix} does not exist on {sha}", {"X-Repo-Commit": sha})
    entries: dict[str, dict] = {}
    for path in sorted(files):
        if not path.startswith(base):
            continue
        rest = path[len(base) :]
        if recursive:
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                folder = base + "/".join(parts[:depth])
                entries.setdefault(folder, _folder_entry(folder))
            entries[path] = _file_entry(path, files[path])
        elif "/" in rest:
            folder = base + rest.split("/")[0]
            entries.setdefault(folder, _folder_entry(folder))
        else:
            entries[path] = _file_entry(path, files[path])
    return list(entries.values())


def paths_info(repo: HubRepo, sha: str, paths: list[str]) -> list[dict]:
    files = repo.commits[sha].files
    found = []
    for path in paths:
        if path in files:
            found.append(_file_entry(path, files[path]))
        elif any(p.startswith(path.rstrip("/") + "/") for p in files):
            found.append(_folder_entry(path.rstrip("/")))
    return found


def refs(repo: HubRepo) -> dict:
    def ref(kind: str, name: str, sha: str) -> dict:
        return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": sha}

    return {
        "branches": [ref("heads", n, s) for n, s in sorted(repo.branches.items())],
        "converts": [],
        "tags": [ref("tags", n, s) for n, s in sorted(repo.tags.items())],
        "pullRequests": [],
    }


def _file_entry(path: str, content: bytes) -> dict:
    entry: dict = {"type": "file", "oid": git_blob_sha(content), "size": len(content), "path": path}
    if is_lfs(path):
        entry["lfs"] = {
            "oid": file_etag(path, content),
            "size": len(content),
            "pointerSize": LFS_POINTER_SIZE,
        }
    return entry


def _folder_entry(path: str) -> dict:
    return {"type": "directory", "oid": git_blob_sha(path.encode()), "size": 0, "path": path}


def _json_file(files: dict[str, bytes] | object, name: str) -> dict | None:
    try:
        return json.loads(files[name])  # type: ignore[index]
    except (KeyError, ValueError):
        return None


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Handler(BaseHTTPRequestHandler):
    hub: HubStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # the stand-in keeps its own request log
        pass

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        self.hub.requests.append((self.command, url.path))
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        segments = [unquote(s) for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        if self.command == "POST":  # read the form first: an HTTP/1.1 connection must be drained
            form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            query = {**query, **parse_qs(form)}
        try:
            if segments == ["api", "agent-harnesses"]:
                self._json({"standardEnvVars": [], "harnesses": {}})
            elif segments[:2] == ["api", "models"]:
                self._api(segments[2:], query, token)
            elif "resolve" in segments:
                self._resolve(segments, token, send_body)
            else:
                self.hub.unhandled.append((self.command, url.path))
                raise HubError(404, None, "Sorry, we can't find the page you are looking for.")
        except HubError as error:
            body = json.dumps({"error": error.message}).encode()
            headers = {"Content-Type": "application/json", **error.headers}
            if error.code:
                headers["X-Error-Code"] = error.code
            headers["X-Error-Message"] = error.message
            self._send(error.status, headers, body, send_body)
        except Exception as crash:  # a bug here must fail the test, not hang the client
            self.hub.crashes.append(f"{self.command} {self.path}: {crash!r}")
            self._send(500, {"Content-Type": "text/plain"}, repr(crash).encode(), send_body)

    def _api(self, segments: list[str], query: dict[str, list[str]], token: str | None) -> None:
        repo_id, rest = self.hub.find_repo(segments)
        if not rest or rest[0] == "revision":
            repo = self.hub.check_access(repo_id, token, content=False)
            sha = self.hub.revision(repo, rest[1] if len(rest) > 1 else "main")
            return self._json(model_info(repo, sha, query))
        if rest[0] == "tree" and len(rest) >= 2:
            repo = self.hub.check_access(repo_id, token, content=False)
            sha = self.hub.revision(repo, rest[1])
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return self._json(tree(repo, sha, "/".join(rest[2:]), recursive))
        if rest[0] == "paths-info" and len(rest) == 2 and self.command == "POST":
            repo = self.hub.check_access(repo_id, token, content=False)
            return self._json(paths_info(repo, self.hub.revision(repo, rest[1]), query.get("paths", [])))
        if rest == ["refs"]:
            return self._json(refs(self.hub.check_access(repo_id, token, content=False)))
        self.hub.unhandled.append((self.command, self.path))
        raise HubError(404, None, "Sorry, we can't find the page you are looking for.")

    def _resolve(self, segments: list[str], token: str | None, send_body: bool) -> None:
        at = segments.index("resolve")
        repo_id, path_segments = "/".join(segments[:at]), segments[at + 2 :]
        if len(segments) < at + 3 or self.command == "POST":
            self.hub.unhandled.append((self.command, self.path))
            raise HubError(404, None, "Sorry, we can't find the page you are looking for.")
        repo = self.hub.check_access(repo_id, token, content=True)
        sha = self.hub.revision(repo, segments[at + 1])
        path = "/".join(path_segments)
        files = repo.commits[sha].files
        if path not in files:
            raise HubError(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": sha})
        content = files[path]
        tag = file_etag(path, content)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{tag}"', "Accept-Ranges": "bytes"}
        headers["Content-Type"] = "application/octet-stream"
        if is_lfs(path):
            headers |= {"X-Linked-Etag": f'"{tag}"', "X-Linked-Size": str(len(content))}
        status, body = 200, content
        byte_range = self.headers.get("Range", "")
        if send_body and byte_range.startswith("bytes="):
            start_text, _, end_text = byte_range[len("bytes=") :].partition("-")
            start = int(start_text or 0)
            end = int(end_text) if end_text else len(content) - 1
            status, body = 206, content[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(content)}"
        self._send(status, headers, body, send_body)

    def _json(self, payload: object) -> None:
        self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode(), True)

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)
