"""A small HTTP server on 127.0.0.1 answering the read part of the ``loomgit serve`` API
from a schema 2 bundle, for the JavaScript client's tests (clients/js/test/client.test.js)
when they are not pointed at a real ``loomgit serve`` (``LOOMGIT_SERVE_CMD``).

    python tests/portable_server.py BUNDLE PORT [MAX_AGE]

``GET /v1/prompts?stage=S``, ``GET /v1/prompts/{id}?stage=S`` (the entry's description,
``ETag: "<content_hash>"``, ``If-None-Match`` → 304, ``Cache-Control: max-age=N``) and
JSON errors ``{"error": {"type", "message"}}``. Standard library only; the bundle is
re-read when it changes. Prints ``listening on http://127.0.0.1:PORT`` when ready.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

V1_ONLY = {"text", "includes", "promoted_by", "promoted_at", "role", "template"}


class Handler(BaseHTTPRequestHandler):
    bundle_path = ""
    max_age = 0
    _cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def bundle(self) -> dict[str, Any]:
        st = os.stat(self.bundle_path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if Handler._cache is None or Handler._cache[0] != stamp:
            with open(self.bundle_path, encoding="utf-8") as f:
                Handler._cache = (stamp, json.load(f))
        return Handler._cache[1]

    def send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, kind: str, message: str) -> None:
        self.send(status, {"error": {"type": kind, "message": message}})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        data = self.bundle()
        stage = query.get("stage", "production")
        if url.path == "/v1/prompts":
            if stage != data["stage"]:
                return self.error(404, "not_found", f"unknown stage {stage!r}")
            prompts = [
                {k: e[k] for k in ("id", "version", "stage", "content_hash")}
                for e in data["prompts"].values()
            ]
            return self.send(200, {"prompts": prompts, "stage": stage})
        if not url.path.startswith("/v1/prompts/"):
            return self.error(404, "not_found", f"no route {url.path}")
        ident = unquote(url.path[len("/v1/prompts/") :])
        entry = data["prompts"].get(ident)
        if entry is None or stage != data["stage"]:
            return self.error(404, "not_found", f"{ident!r} is not on stage {stage!r}")
        etag = f'"{entry["content_hash"]}"'
        headers = {"ETag": etag, "Cache-Control": f"max-age={self.max_age}"}
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, None, headers)
        self.send(200, {k: v for k, v in entry.items() if k not in V1_ONLY}, headers)


def main() -> None:
    Handler.bundle_path = sys.argv[1]
    Handler.max_age = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
