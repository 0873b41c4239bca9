"""The two requests clients send most, answered straight from the ASGI scope, before
Starlette's routing and request objects (a third to a half of the time of a request:
``bench/bench_serve.py``): ``GET /v1/prompts/{id}`` without a query string and ``POST
/v1/prompts/{id}/render``. Everything else goes to the Starlette application, and so does
everything when CORS is on (its middleware answers preflights and adds the headers).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from loomgit.errors import LoomgitError
from loomgit.serve.core import (
    JSON_TYPE,
    PROMPT_PREFIX,
    Core,
    asgi_body,
    dumps,
    error_answer,
    raw_headers,
    read_json,
    scope_headers,
)
from loomgit.serve.errors import ApiError

RENDER_SUFFIX = "/render"


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path  # what metrics and the access log call the route


GET_ROUTE = _Route("/v1/prompts/{id}")
RENDER_ROUTE = _Route("/v1/prompts/{id}/render")


class Front:
    def __init__(self, core: Core, app: ASGIApp) -> None:
        self.core = core
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PROMPT_PREFIX):
            ident = path[len(PROMPT_PREFIX) :]
            method = scope["method"]
            if method == "GET" and ident and not scope.get("query_string"):
                if not ident.endswith(RENDER_SUFFIX):
                    scope["route"] = GET_ROUTE
                    await _answer(send, *self.core.fast_get(scope))
                    return
            elif method == "POST" and ident.endswith(RENDER_SUFFIX):
                ident = ident[: -len(RENDER_SUFFIX)]
                if ident:
                    scope["route"] = RENDER_ROUTE
                    await _answer(send, *await self._render(scope, receive, ident))
                    return
        await self.app(scope, receive, send)

    async def _render(
        self, scope: Scope, receive: Receive, ident: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        got = scope_headers(scope, b"authorization", b"content-length")
        try:
            self.core.auth_scope(scope, got.get(b"authorization"), "read")
            declared = got.get(b"content-length")
            body = await read_json(asgi_body(receive), declared, self.core.s.max_body)
            data = dumps(self.core.render_answer(ident, body))
        except (ApiError, LoomgitError) as e:
            return error_answer(e)
        return 200, raw_headers({"Content-Type": JSON_TYPE}, data), data


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
