"""What the server's endpoints share: settings, key checks, prompt look-up, rendering, and
the JSON helpers of requests and answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from loomgit.app.bundle import LoadedPrompt
from loomgit.app.describe import describe
from loomgit.config import Config
from loomgit.serve.auth import Keys
from loomgit.serve.errors import ApiError
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


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status, headers, media_type=JSON_TYPE)


def error_response(e: ApiError) -> Response:
    return json_response(e.body(), e.status, e.headers)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object; 413 past ``limit`` bytes, 400 when malformed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"the request body is over {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"the request body is over {limit:,} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
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


class Core:
    """What every handler uses."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self._described: dict[int, tuple[LoadedPrompt, bytes]] = {}

    # -- helpers ---------------------------------------------------------------------------
    def auth(self, request: Request, scope: str) -> None:
        key = self.s.keys.check(request.headers.get("authorization"), scope)
        if key is not None:
            request.scope["loomgit.key"] = key.name

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

    def render(self, lp: LoadedPrompt, variables: dict[str, Any] | None) -> list[dict[str, Any]]:
        cfg = self.s.config
        # TRACING: a span "render" with the loomgit.prompt.* attributes goes here
        return lp.prompt.render(
            variables,
            loader=lp.includes.get,
            max_chars=cfg.render_max_chars,
            timeout_s=cfg.render_timeout_s,
        )
