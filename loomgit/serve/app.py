"""The ASGI application of ``loomgit serve`` (Starlette): the read and render endpoints,
health, metrics and the OpenAPI document; executions are :mod:`loomgit.serve.execute`.

Routes (the JSON shapes: ``docs/serve.md``)::

    GET  /v1/prompts?stage=S                       the prompts a stage holds
    GET  /v1/prompts/{id}?stage=S|version=V|ref=R  one prompt (describe() JSON), ETag
    POST /v1/prompts/{id}/render                   rendered messages
    POST /v1/executions                            render + model call (+ SSE)
    GET  /healthz  /readyz  /metrics  /openapi.json
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from loomgit.app.describe import describe
from loomgit.errors import LoomgitError
from loomgit.serve.core import (
    JSON_TYPE,
    Core,
    Settings,
    check_keys,
    error_response,
    json_response,
    read_json,
    selector,
    variables_field,
)
from loomgit.serve.errors import ApiError, from_loomgit
from loomgit.serve.execute import Executions
from loomgit.serve.fast import Front
from loomgit.serve.metrics import CONTENT_TYPE
from loomgit.serve.observe import Observed
from loomgit.serve.openapi import openapi


class Endpoints:
    """The read, render, health and metrics handlers."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.s = core.s

    async def list_prompts(self, request: Request) -> Response:
        self.core.auth(request, "read")
        q = request.query_params
        check_keys(dict(q), ("stage",))
        stage = q.get("stage") or self.s.source.default_stage
        listed = self.s.source.listing(stage)
        return json_response(
            {
                "prompts": [
                    {
                        "id": p.id,
                        "version": p.version,
                        "stage": stage,
                        "content_hash": p.content_hash,
                    }
                    for p in listed
                ],
                "stage": stage,
            }
        )

    async def get_prompt(self, request: Request) -> Response:
        self.core.auth(request, "read")
        q = dict(request.query_params)
        check_keys(q, ("stage", "version", "ref", "render"))
        lp = self.core.prompt(request.path_params["id"], *selector(q))
        headers = self.core.headers(lp)
        raw = q.get("render")
        if raw is None:
            if self.core.not_modified(lp, request.headers.get("if-none-match")):
                return Response(status_code=304, headers=headers)
            return Response(self.core.described(lp), 200, headers, media_type=JSON_TYPE)
        try:
            values = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise ApiError(
                400, "malformed_json", "render= must be a JSON object of variables"
            ) from None
        data = describe(lp)
        data["rendered"] = self.core.render(lp, variables_field(values, "render"))
        return json_response(data, headers=headers)

    async def render_prompt(self, request: Request) -> Response:
        self.core.auth(request, "read")
        body = await read_json(
            request.stream(), request.headers.get("content-length"), self.s.max_body
        )
        return json_response(self.core.render_answer(request.path_params["id"], body))

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        problem = self.s.source.problem()
        if problem is None:
            try:
                self.s.source.listing(self.s.source.default_stage)
            except LoomgitError as e:
                problem = str(e)
        if problem is not None:
            return json_response({"status": "not ready", "problem": problem}, 503)
        return json_response({"status": "ready", "source": self.s.source.description})

    async def metrics(self, request: Request) -> Response:
        self.core.auth(request, "read")
        return Response(self.s.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi())


def _wrap(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await fn(request)
            return response
        except ApiError as e:
            return error_response(e)
        except LoomgitError as e:
            return error_response(from_loomgit(e))

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kinds = {404: "not_found", 405: "method_not_allowed"}
    message = {
        404: f"no such endpoint: {request.url.path}",
        405: f"{request.method} is not allowed here",
    }
    return error_response(
        ApiError(
            exc.status_code,
            kinds.get(exc.status_code, "bad_request"),
            message.get(exc.status_code, str(exc.detail)),
            dict(exc.headers or {}),
        )
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(500, "server_error", f"internal error ({type(exc).__name__})"))


def create_app(settings: Settings) -> Observed:
    """The ASGI application for ``settings``."""
    core = Core(settings)
    server = Endpoints(core)
    runs = Executions(core)
    routes = [
        Route("/v1/prompts", _wrap(server.list_prompts), methods=["GET"]),
        Route("/v1/prompts/{id:path}/render", _wrap(server.render_prompt), methods=["POST"]),
        Route("/v1/prompts/{id:path}", _wrap(server.get_prompt), methods=["GET"]),
        Route("/v1/executions", _wrap(runs.execute), methods=["POST"]),
        Route("/healthz", server.healthz, methods=["GET"]),
        Route("/readyz", server.readyz, methods=["GET"]),
        Route("/metrics", _wrap(server.metrics), methods=["GET"]),
        Route("/openapi.json", server.openapi, methods=["GET"]),
    ]
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "If-None-Match"],
                expose_headers=["ETag"],
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=runs.lifespan,
    )
    front: ASGIApp = app if settings.cors_origins else Front(core, app)
    return Observed(front, settings.metrics, settings.access_log)
