"""What every request leaves behind: its metrics and one structured access-log line.

The access log is one JSON object a line on the ``loomgit.serve.access`` logger
(``loomgit serve`` sends it to stderr)::

    {"time": "2026-01-01T12:00:00.123Z", "method": "GET", "path": "/v1/prompts/x",
     "route": "/v1/prompts/{id}", "status": 200, "duration_ms": 0.41, "bytes": 812,
     "client": "127.0.0.1", "key": "ci-reader"}

The query string is not logged (``render=`` carries variables, which may be personal
data), nor any header: ``key`` is the key's name from the keys file (``env-N`` for the
N-th key of ``LOOMGIT_SERVE_KEYS``), never the key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loomgit.serve.metrics import Metrics

log = logging.getLogger("loomgit.serve.access")
log.addHandler(logging.NullHandler())


class AccessLog:
    """Writes the access-log lines: to ``line`` when given (``loomgit serve`` writes them
    straight to stderr, a third of the cost of a log record), else to the logger."""

    def __init__(self, line: Callable[[str], Any] | None = None) -> None:
        self.line = line

    def write(self, entry: dict[str, Any]) -> None:
        text = json.dumps(entry, ensure_ascii=False, separators=(", ", ": "))
        if self.line is not None:
            self.line(text + "\n")
        else:
            log.info("%s", text)


_second: list[Any] = [-1, ""]  # the last whole second and its text


def _now() -> str:
    """UTC, ISO 8601 with milliseconds (``2026-01-01T12:00:00.123Z``); the text of the
    second is made once a second."""
    t = time.time()
    whole = int(t)
    if whole != _second[0]:
        _second[0] = whole
        _second[1] = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{int((t - whole) * 1000):03d}Z"


class Observed:
    """ASGI middleware: counts and times each HTTP request and logs it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog | None) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        seen: dict[str, int] = {"status": 500, "bytes": 0}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - t0
            route_obj = scope.get("route")
            route = str(getattr(route_obj, "path", "") or "unmatched").replace(":path}", "}")
            status = seen["status"]
            m = self.metrics
            m.inc(
                "loomgit_serve_requests_total",
                route=route,
                method=str(scope["method"]),
                status=str(status),
            )
            m.observe(elapsed, route=route)
            if self.access_log is not None:
                client = scope.get("client")
                self.access_log.write(
                    {
                        "time": _now(),
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "bytes": seen["bytes"],
                        "client": client[0] if client else None,
                        "key": scope.get("loomgit.key"),
                    }
                )
