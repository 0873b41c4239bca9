"""A fake GitHub for the test suite: the REST API on 127.0.0.1 (issue comments with
pagination through ``Link`` headers, 403 for a fork's read-only token, token checks, and
the workflow-run artifacts the Action uploads), plus the runner files read back the way
the runner reads them.

Used through the ``fake_github`` fixture (tests/conftest.py) by the GitHub client tests,
the ``loomgit ci`` tests and the Action's steps run locally (tests/action_runner.py).
Response shapes follow GitHub's REST reference: an issue comment carries ``id``,
``body``, ``user.login``/``user.type`` and ``html_url``; the list of a run's artifacts is
``{"total_count", "artifacts": [{"id", "node_id", "name", "size_in_bytes", "url",
"archive_download_url", "expired", "created_at", "updated_at", "expires_at", "digest",
"workflow_run": {...}}]}``; an artifact's ``/zip`` answers 302 to the archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_fakeTOKEN0123456789abcdefABCDEF"
SERVER_URL = "https://github.com"  # what html_url and artifact URLs point at


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Artifact:
    """One uploaded workflow artifact: its files, zipped as GitHub serves them."""

    id: int
    name: str
    repository: str
    run_id: int
    files: dict[str, bytes]

    def zip_bytes(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(self.files.items()):
                z.writestr(name, data)
        return buf.getvalue()

    @property
    def html_url(self) -> str:
        return f"{SERVER_URL}/{self.repository}/actions/runs/{self.run_id}/artifacts/{self.id}"

    def to_json(self, api: str) -> dict[str, Any]:
        raw = self.zip_bytes()
        url = f"{api}/repos/{self.repository}/actions/artifacts/{self.id}"
        stamp = "2026-01-01T00:00:00Z"
        return {
            "id": self.id,
            "node_id": f"MDg6QXJ0aWZhY3Q{self.id}",
            "name": self.name,
            "size_in_bytes": len(raw),
            "url": url,
            "archive_download_url": f"{url}/zip",
            "expired": False,
            "created_at": stamp,
            "updated_at": stamp,
            "expires_at": "2026-04-01T00:00:00Z",
            "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
            "workflow_run": {"id": self.run_id},
        }


@dataclass
class FakeGitHub:
    """An in-memory GitHub REST API on 127.0.0.1 (start/stop it)."""

    token: str = TOKEN
    page_cap: int = 100  # GitHub's per_page maximum; tests lower it to force paging
    forbid_writes: bool = False
    fail_statuses: list[int] = field(default_factory=list)  # answered before serving
    next_link_host: str | None = None  # send rel="next" to another host (must be refused)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    bot_login: str = "github-actions[bot]"
    _next_id: int = 1000

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                raw = data if isinstance(data, bytes) else json.dumps(data).encode()
                self.send_response(status)
                kind = "application/zip" if isinstance(data, bytes) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                body = None
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    body = json.loads(self.rfile.read(n))
                fake.seen.append(
                    Seen(
                        method, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
                    )
                )
                if fake.fail_statuses:
                    self._send(fake.fail_statuses.pop(0), {"message": "Server Error"})
                    return
                blob = re.fullmatch(r"/_blobs/(\d+)\.zip", parts.path)
                if blob and method == "GET":  # the signed storage URL: no token needed
                    for a in fake.artifacts:
                        if a.id == int(blob.group(1)):
                            self._send(200, a.zip_bytes())
                            return
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"message": "Bad credentials"})
                    return
                if method == "GET" and self._artifacts(parts.path):
                    return
                m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", parts.path)
                if m and method == "GET":
                    self._list(int(m.group(2)), parse_qs(parts.query))
                    return
                if method in ("POST", "PATCH") and fake.forbid_writes:
                    self._send(403, {"message": "Resource not accessible by integration"})
                    return
                if m and method == "POST":
                    fake._next_id += 1
                    c = fake.make_comment(fake._next_id, body["body"], fake.bot_login, "Bot")
                    fake.comments.setdefault(int(m.group(2)), []).append(c)
                    self._send(201, c)
                    return
                m2 = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", parts.path)
                if m2 and method == "PATCH":
                    for cs in fake.comments.values():
                        for c in cs:
                            if c["id"] == int(m2.group(2)):
                                c["body"] = body["body"]
                                self._send(200, c)
                                return
                self._send(404, {"message": "Not Found"})

            def _artifacts(self, path: str) -> bool:
                runs = re.fullmatch(r"/repos/([^/]+/[^/]+)/actions/runs/(\d+)/artifacts", path)
                if runs:
                    found = [
                        a.to_json(fake.url)
                        for a in fake.artifacts
                        if a.repository == runs.group(1) and a.run_id == int(runs.group(2))
                    ]
                    self._send(200, {"total_count": len(found), "artifacts": found})
                    return True
                one = re.fullmatch(r"/repos/([^/]+/[^/]+)/actions/artifacts/(\d+)(/zip)?", path)
                if one:
                    for a in fake.artifacts:
                        if a.repository == one.group(1) and a.id == int(one.group(2)):
                            if one.group(3):
                                self._send(302, b"", {"Location": f"{fake.url}/_blobs/{a.id}.zip"})
                            else:
                                self._send(200, a.to_json(fake.url))
                            return True
                return False

            def _list(self, number: int, q: dict[str, list[str]]) -> None:
                per_page = min(int(q.get("per_page", ["30"])[0]), fake.page_cap)
                page = int(q.get("page", ["1"])[0])
                items = fake.comments.get(number, [])
                chunk = items[(page - 1) * per_page : page * per_page]
                headers = {}
                if page * per_page < len(items):
                    host = fake.next_link_host or f"127.0.0.1:{fake.port}"
                    base = f"http://{host}{urlsplit(self.path).path}"
                    last = (len(items) + per_page - 1) // per_page
                    headers["Link"] = (
                        f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                        f'<{base}?per_page={per_page}&page={last}>; rel="last"'
                    )
                self._send(200, chunk, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_comment(self, cid: int, body: str, login: str, kind: str) -> dict[str, Any]:
        return {
            "id": cid,
            "body": body,
            "user": {"login": login, "type": kind},
            "html_url": f"{SERVER_URL}/o/r/pull/7#issuecomment-{cid}",
        }

    def seed(self, number: int, bodies: list[tuple[str, str]]) -> None:
        """Existing comments: (body, "Bot"|"User")."""
        for body, kind in bodies:
            self._next_id += 1
            login = self.bot_login if kind == "Bot" else "someone"
            self.comments.setdefault(number, []).append(
                self.make_comment(self._next_id, body, login, kind)
            )

    def upload_artifact(self, repository: str, run_id: int, name: str, root: Path) -> Artifact:
        """What actions/upload-artifact does with a folder: every file under ``root``,
        zipped under one name; a second upload of the name replaces the first
        (``overwrite: true``)."""
        files = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        self.artifacts = [
            a
            for a in self.artifacts
            if not (a.repository == repository and a.run_id == run_id and a.name == name)
        ]
        self._next_id += 1
        art = Artifact(self._next_id, name, repository, run_id, files)
        self.artifacts.append(art)
        return art

    def calls(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does (NAME=VALUE and NAME<<DELIM blocks)."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        elif "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
            i += 1
        else:
            i += 1
    return out
