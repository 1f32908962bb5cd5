"""A stand-in for the Hugging Face Hub on 127.0.0.1, so tests run huggingface_hub's real download code offline.

Point `HF_ENDPOINT` at `HubServer.endpoint`. It answers the calls that `HfApi.resolve_revision`,
`HfApi.model_info(files_metadata=True)` and `hf_hub_download` make, the way the Hub does:

    GET  /api/models/{repo}[/revision/{rev}][?blobs=true]   repo info: sha, siblings (size, blobId, lfs)
    HEAD /{repo}/resolve/{rev}/{path}                        metadata: X-Repo-Commit, ETag, size
    GET  /{repo}/resolve/{rev}/{path}                        the file; LFS files redirect to the CDN
    GET  {cdn}/lfs/{sha256}                                   LFS content (whole: Range is not needed for
                                                              files under huggingface_hub's 10 MB chunk)

LFS files (binary ones, as `upload_folder` stores them) are answered with a 302 carrying X-Linked-Etag (their
sha256) and X-Linked-Size, and served by a second server on another port, like the Hub's CDN: a different origin,
so the client drops its token before following. Errors carry the Hub's X-Error-Code headers (RepoNotFound,
RevisionNotFound, EntryNotFound, GatedRepo), which is how huggingface_hub tells them apart.

`fault` breaks LFS transfers: "truncate" sends a short but well-formed body, "corrupt" the right length with
wrong bytes, "drop_once" closes the connection halfway through the first transfer of each file.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Fault = Literal["truncate", "corrupt", "drop_once"]


def git_blob_id(data: bytes) -> str:
    """The git object id of a file, which the Hub reports as its blobId and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(data: bytes) -> bool:
    """Binary or large files go to LFS, as huggingface_hub's upload does."""
    return b"\0" in data[:8192] or len(data) > 10_000_000


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> path -> content
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha
    gated: bool = False

    def commit_for(self, revision: str) -> str | None:
        return revision if revision in self.commits else self.refs.get(revision)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorized: bool


class HubServer:
    """Serves repositories added with `add`; `requests` records every call, `stop()` takes it off the network."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.tokens: set[str] = set()  # tokens allowed into gated repos
        self.fault: Fault | None = None
        self.requests: list[Request] = []
        self._dropped: set[str] = set()
        self._blobs: dict[str, bytes] = {}
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), self._handler()) for _ in range(2)]
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def add(self, repo_id: str, files: dict[str, bytes], *, ref: str = "main", gated: bool = False) -> str:
        """Commit `files` (the whole tree) to `repo_id` and point `ref` at it; returns the commit sha."""
        repo = self.repos.setdefault(repo_id, Repo())
        repo.gated = repo.gated or gated
        tree = json.dumps({path: git_blob_id(data) for path, data in sorted(files.items())})
        commit = hashlib.sha1(f"{repo_id}\n{len(repo.commits)}\n{tree}".encode()).hexdigest()
        repo.commits[commit] = dict(files)
        repo.refs[ref] = commit
        for data in files.values():
            self._blobs[hashlib.sha256(data).hexdigest()] = data
        return commit

    def add_dir(self, repo_id: str, folder: Path, *, ref: str = "main", gated: bool = False) -> str:
        """Commit every file under `folder`, with paths relative to it."""
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        return self.add(repo_id, files, ref=ref, gated=gated)

    def downloads(self) -> list[str]:
        """Paths of the file contents sent (GET on resolve or the CDN), in order."""
        return [r.path for r in self.requests if r.method == "GET" and "/api/" not in r.path]

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------------------------------------ answering

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so nothing is served from a kept-alive one after stop().

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, *, body: bool) -> None:
        url = urlsplit(handler.path)
        auth = handler.headers.get("Authorization")
        self.requests.append(Request(handler.command, unquote(url.path), auth is not None))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        token = auth.removeprefix("Bearer ").strip() if auth else None
        if handler.server is self._servers[1]:
            return self._serve_lfs(handler, parts, body=body)
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            return self._repo_info(handler, parts[2:], parse_qs(url.query), token)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(handler, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), token, body=body)
        self._send(handler, 404, b"not found")

    def _repo_info(self, handler: BaseHTTPRequestHandler, parts: list[str], query: dict, token: str | None) -> None:
        repo_id = "/".join(parts[:2])
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._repo_not_found(handler, token)
        revision = "/".join(parts[3:]) if parts[2:3] == ["revision"] else "main"
        commit = repo.commit_for(revision)
        if commit is None:
            return self._error(handler, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for path, data in sorted(repo.commits[commit].items()):
            sibling: dict[str, object] = {"rfilename": path}
            if blobs:
                sha256 = hashlib.sha256(data).hexdigest()
                lfs = is_lfs(data)
                # For an LFS file the Hub's blobId is its pointer file's; any stable id does here.
                sibling.update(size=len(data), blobId=git_blob_id(sha256.encode() if lfs else data))
                if lfs:
                    sibling["lfs"] = {"size": len(data), "sha256": sha256, "pointerSize": 134}
            siblings.append(sibling)
        info = {
            "_id": commit[:24],
            "id": repo_id,
            "modelId": repo_id,
            "sha": commit,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "tags": [],
            "siblings": siblings,
        }
        self._send(handler, 200, json.dumps(info).encode(), {"Content-Type": "application/json"})

    def _resolve(
        self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str, path: str, token: str | None, *, body: bool
    ) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._repo_not_found(handler, token, body=body)
        if repo.gated and token not in self.tokens:
            # Gated repos: metadata is public, files need a token that was granted access.
            status = 401 if token is None else 403
            message = f"Access to model {repo_id} is restricted and you are not in the authorized list."
            return self._error(handler, status, "GatedRepo", message, body=body)
        commit = repo.commit_for(revision)
        if commit is None:
            return self._error(handler, 404, "RevisionNotFound", f"Invalid rev id: {revision}", body=body)
        data = repo.commits[commit].get(path)
        if data is None:
            headers = {"X-Repo-Commit": commit}
            return self._error(handler, 404, "EntryNotFound", f"{path} does not exist", headers, body=body)
        headers = {"X-Repo-Commit": commit}
        if is_lfs(data):
            sha256 = hashlib.sha256(data).hexdigest()
            headers.update(
                {
                    "Location": f"{self.cdn}/lfs/{sha256}",
                    "X-Linked-Etag": f'"{sha256}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": f'"{git_blob_id(sha256.encode())}"',
                }
            )
            return self._send(handler, 302, b"", headers, body=body)
        headers["ETag"] = f'"{git_blob_id(data)}"'
        self._send(handler, 200, data, headers, body=body)

    def _serve_lfs(self, handler: BaseHTTPRequestHandler, parts: list[str], *, body: bool) -> None:
        data = self._blobs.get(parts[-1]) if parts[:1] == ["lfs"] else None
        if data is None:
            return self._send(handler, 404, b"no such object", body=body)
        if self.fault == "truncate":
            return self._send(handler, 200, data[: len(data) // 2], body=body)
        if self.fault == "corrupt":
            return self._send(handler, 200, bytes(b ^ 0xFF for b in data[:64]) + data[64:], body=body)
        if self.fault == "drop_once" and body and parts[-1] not in self._dropped:
            self._dropped.add(parts[-1])
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            return  # the connection closes halfway through the body
        self._send(handler, 200, data, body=body)

    def _repo_not_found(self, handler: BaseHTTPRequestHandler, token: str | None, *, body: bool = True) -> None:
        # Like the Hub: 401 when anonymous (it might be private), 404 when authenticated.
        self._error(handler, 401 if token is None else 404, "RepoNotFound", "Repository not found", body=body)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        body: bool = True,
    ) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})}
        payload = json.dumps({"error": message}).encode()
        self._send(handler, status, payload, {"Content-Type": "application/json", **headers}, body=body)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
        *,
        body: bool = True,
    ) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if body:
            handler.wfile.write(payload)
