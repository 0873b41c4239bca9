"""A scriptable HTTP server on 127.0.0.1 for the provider tests: it records every request
and answers from a queue of replies, including faults (hang, closed connection, truncated
body, invalid JSON)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None  # hang | close | truncate
    delay: float = 0.0


def ok(data: Any, **kw: Any) -> Reply:
    return Reply(200, data, **kw)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default (5) resets connections under concurrent tests
    daemon_threads = True


class FakeAPI:
    """``with FakeAPI() as api: api.queue(Reply(...)); api.url``"""

    def __init__(self) -> None:
        self.requests: list[Req] = []
        self.replies: deque[Reply] = deque()
        self.default: Callable[[Req], Reply] | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Req(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with api.lock:
                    api.requests.append(req)
                    api.in_flight += 1
                    api.max_in_flight = max(api.max_in_flight, api.in_flight)
                    reply = (
                        api.replies.popleft()
                        if api.replies
                        else api.default(req)
                        if api.default
                        else Reply(500, {"error": "no reply queued"})
                    )
                try:
                    self._answer(reply)
                finally:
                    with api.lock:
                        api.in_flight -= 1

            def _answer(self, reply: Reply) -> None:
                if reply.delay:
                    api.stop.wait(reply.delay)
                if reply.action == "hang":
                    api.stop.wait(30)
                    self.close_connection = True
                    return
                if reply.action == "close":
                    self.close_connection = True
                    return
                data = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                if reply.action == "truncate":
                    self.send_header("Content-Length", str(len(data) + 500))
                else:
                    self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                if reply.action == "truncate":
                    self.wfile.flush()
                    self.close_connection = True

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, *replies: Reply) -> FakeAPI:
        self.replies.extend(replies)
        return self

    def __enter__(self) -> FakeAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        time.sleep(0)
