"""What the server's endpoints share: settings, key checks, prompt look-up, rendering, and
the JSON helpers of requests and answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from loomgit.app.bundle import LoadedPrompt
from loomgit.app.describe import describe
from loomgit.config import Config
from loomgit.errors import LoomgitError
from loomgit.serve.auth import Keys
from loomgit.serve.errors import ApiError, from_loomgit
from loomgit.serve.metrics import Metrics
from loomgit.serve.observe import AccessLog
from loomgit.serve.sources import Source

MAX_BODY = 1024 * 1024  # bytes of a request body
JSON_TYPE = "application/json"


@dataclass
class Settings:
    source: Source
    keys: Keys
    max_age: int = 5
    max_body: int = MAX_BODY
    cors_origins: tuple[str, ...] = ()
    access_log: AccessLog | None = None
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def config(self) -> Config:
        return self.source.config


PROMPT_PREFIX = "/v1/prompts/"


def raw_headers(headers: dict[str, str], body: bytes | None) -> list[tuple[bytes, bytes]]:
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body is not None:
        out.append((b"content-length", str(len(body)).encode()))
    return out


def scope_headers(scope: MutableMapping[str, Any], *names: bytes) -> dict[bytes, str]:
    """The request headers ``names`` of an ASGI scope, as text (the last of a repeated one)."""
    return {k: v.decode("latin-1") for k, v in scope["headers"] if k in names}


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status, headers, media_type=JSON_TYPE)


def error_response(e: ApiError) -> Response:
    return json_response(e.body(), e.status, e.headers)


async def asgi_body(receive: Receive) -> AsyncIterator[bytes]:
    """The chunks of a request body, from the ASGI ``receive`` callable."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def read_json(
    chunks: AsyncIterator[bytes], declared: str | None, limit: int
) -> dict[str, Any]:
    """The request body as a JSON object; 413 past ``limit`` bytes (the declared length,
    else counted as it arrives), 400 when malformed."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"the request body is over {limit:,} bytes")
    got: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"the request body is over {limit:,} bytes")
        got.append(chunk)
    raw = b"".join(got)
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        where = (
            f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        )
        raise ApiError(400, "malformed_json", f"the body is not valid JSON{where}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


def check_keys(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"unknown field {unknown[0]!r} (the fields are {', '.join(allowed)})",
        )


def text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(400, "bad_request", f"{name!r} must be a non-empty string")
    return value


def variables_field(data: Any, name: str = "variables") -> dict[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_variables", f"{name!r} must be a JSON object")
    return data


def selector(source: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(stage, version, ref) of a query or a body; at most one of them."""
    chosen = [k for k in ("stage", "version", "ref") if source.get(k) is not None]
    if len(chosen) > 1:
        raise ApiError(
            400, "bad_request", f"give one of stage, version and ref, not {' and '.join(chosen)}"
        )
    got = [text_field(source, k) for k in ("stage", "version", "ref")]
    return got[0], got[1], got[2]


def error_answer(e: ApiError | LoomgitError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the JSON error for ``e``, for the raw ASGI answers."""
    err = e if isinstance(e, ApiError) else from_loomgit(e)
    body = dumps(err.body())
    return err.status, raw_headers({**err.headers, "Content-Type": JSON_TYPE}, body), body


class Core:
    """What every handler uses."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self._described: dict[int, tuple[LoadedPrompt, bytes]] = {}

    # -- helpers ---------------------------------------------------------------------------
    def auth(self, request: Request, scope: str) -> None:
        self.auth_scope(request.scope, request.headers.get("authorization"), scope)

    def auth_scope(
        self, asgi: MutableMapping[str, Any], authorization: str | None, scope: str
    ) -> None:
        """Check the key of a request (its ASGI scope) for ``scope``; the access log
        names the key."""
        key = self.s.keys.check(authorization, scope)
        if key is not None:
            asgi["loomgit.key"] = key.name

    def headers(self, lp: LoadedPrompt) -> dict[str, str]:
        return {"ETag": f'"{lp.content_hash}"', "Cache-Control": f"max-age={self.s.max_age}"}

    def not_modified(self, lp: LoadedPrompt, if_none_match: str | None) -> bool:
        """Whether ``If-None-Match`` names ``lp``'s content (counted when it does)."""
        if if_none_match is None:
            return False
        tags = {t.strip() for t in if_none_match.split(",")}
        if "*" in tags or f'"{lp.content_hash}"' in tags or f'W/"{lp.content_hash}"' in tags:
            self.s.metrics.inc("loomgit_serve_not_modified_total", route="/v1/prompts/{id}")
            return True
        return False

    def fast_get(
        self, scope: MutableMapping[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """``GET /v1/prompts/{id}`` without a query string, straight from the ASGI scope:
        (status, headers, body). The answer most clients ask for, most often."""
        got = scope_headers(scope, b"authorization", b"if-none-match")
        if_none_match = got.get(b"if-none-match")
        try:
            self.auth_scope(scope, got.get(b"authorization"), "read")
            lp = self.prompt(scope["path"][len(PROMPT_PREFIX) :], None, None, None)
        except (ApiError, LoomgitError) as e:
            return error_answer(e)
        headers = self.headers(lp)
        if self.not_modified(lp, if_none_match):
            return 304, raw_headers(headers, None), b""
        body = self.described(lp)
        return 200, raw_headers({**headers, "Content-Type": JSON_TYPE}, body), body

    def prompt(
        self, ident: str, stage: str | None, version: str | None, ref: str | None
    ) -> LoadedPrompt:
        return self.s.source.get(ident, stage, version, ref)

    def described(self, lp: LoadedPrompt) -> bytes:
        hit = self._described.get(id(lp))
        if hit is not None and hit[0] is lp:
            return hit[1]
        body = dumps(describe(lp))
        if len(self._described) > 4096:
            self._described.clear()
        self._described[id(lp)] = (lp, body)
        return body

    def render_answer(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer of ``POST /v1/prompts/{ident}/render`` with ``body``."""
        check_keys(body, ("variables", "stage", "version", "ref"))
        lp = self.prompt(ident, *selector(body))
        messages = self.render(lp, variables_field(body.get("variables")))
        return {
            "id": lp.id,
            "version": lp.version,
            "content_hash": lp.content_hash,
            "messages": messages,
        }

    def render(self, lp: LoadedPrompt, variables: dict[str, Any] | None) -> list[dict[str, Any]]:
        cfg = self.s.config
        return lp.render_values(
            variables, max_chars=cfg.render_max_chars, timeout_s=cfg.render_timeout_s
        )
