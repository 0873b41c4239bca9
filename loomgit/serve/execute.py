"""``POST /v1/executions``: render a prompt, send it to its model through the project's
providers (retries, limits, circuit breaker, response cache and prices from
``loomgit.yaml``, as ``loomgit eval`` sends), and answer with the completion and its
lineage. ``stream: true`` answers with Server-Sent Events::

    event: delta
    data: {"text": "Hel"}

    event: completion
    data: {"completion": {...}, "lineage": {...}}

A call that fails before its first chunk is an error answer like any other (a status and
``{"error": ...}``); one that fails after it ends the stream with ``event: error`` and
``{"error": {...}}``.
The OpenAI-compatible providers and ``echo`` stream as the model writes; the others send
their answer as one delta when it is complete.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from loomgit import tracing
from loomgit.app.bundle import LoadedPrompt
from loomgit.errors import LoomgitError
from loomgit.providers.base import Completion
from loomgit.providers.client import ModelClient
from loomgit.serve.core import (
    Core,
    check_keys,
    json_response,
    read_json,
    selector,
    text_field,
    variables_field,
)
from loomgit.serve.errors import ApiError, from_loomgit
from loomgit.serve.metrics import Metrics

FIELDS = ("prompt", "variables", "stage", "version", "ref", "model", "params", "stream")


def lineage(lp: LoadedPrompt, c: Completion, elapsed_ms: float) -> dict[str, Any]:
    return {
        "id": lp.id,
        "version": lp.version,
        "stage": lp.stage or None,
        "content_hash": lp.content_hash,
        "source_commit": lp.source_commit,
        "model": c.model,
        "tokens": {
            "input": c.usage.input_tokens,
            "output": c.usage.output_tokens,
            "total": c.usage.total_tokens,
        },
        "cost": c.cost_usd,
        "latency_ms": round(c.latency_ms, 3),
        "server_ms": round(elapsed_ms, 3),
        "cached": c.cached,
    }


def completion_json(c: Completion) -> dict[str, Any]:
    d = c.to_dict()
    d["tool_calls"] = [t.to_dict() for t in c.tool_calls]
    d.setdefault("refusal", None)
    return d


def sse(event: str, data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {text}\n\n".encode()


class Executions:
    """The execution endpoint and the model client it keeps for the server's lifetime."""

    def __init__(self, server: Core) -> None:
        self.server = server
        self.client: ModelClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self.client is not None:
                await self.client.aclose()
                self.client = None

    def model_client(self) -> ModelClient:
        if self.client is None:
            self.client = ModelClient(self.server.s.config)
        return self.client

    def _count(self, lp: LoadedPrompt, model: str, c: Completion | None, error: str = "") -> None:
        m: Metrics = self.server.s.metrics
        labels = {"prompt": lp.id, "version": lp.version, "model": model}
        if c is None:
            m.inc("loomgit_serve_provider_errors_total", labels=labels, type=error)
            return
        m.inc("loomgit_serve_executions_total", labels=labels)
        if c.cached:
            m.inc("loomgit_serve_execution_cache_hits_total", labels=labels)
        m.inc("loomgit_serve_tokens_total", c.usage.input_tokens, labels, kind="input")
        m.inc("loomgit_serve_tokens_total", c.usage.output_tokens, labels, kind="output")
        if c.cost_usd:
            m.inc("loomgit_serve_cost_usd_total", c.cost_usd, labels)

    async def execute(self, request: Request) -> Response:
        server = self.server
        server.auth(request, "execute")
        body = await read_json(
            request.stream(), request.headers.get("content-length"), server.s.max_body
        )
        check_keys(body, FIELDS)
        ident = text_field(body, "prompt")
        if ident is None:
            raise ApiError(400, "bad_request", "'prompt' (the prompt's id) is required")
        model_asked = text_field(body, "model")
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise ApiError(400, "bad_request", "'params' must be a JSON object")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "bad_request", "'stream' must be true or false")
        lp = server.prompt(ident, *selector(body))
        messages = server.render(lp, variables_field(body.get("variables")))
        cfg = server.s.config
        defaults = cfg.section("defaults")
        model = model_asked or lp.prompt.model or defaults.get("model")
        if not model:
            raise ApiError(
                400,
                "bad_request",
                f"{lp.id}: no model to run: send 'model', or set model: in the prompt",
            )
        sent = {**(defaults.get("params") or {}), **lp.prompt.call_params(), **(params or {})}
        sent.pop("stream", None)
        sent.pop("stream_options", None)
        client = self.model_client()
        t0 = time.perf_counter()
        # an INTERNAL span over the execution; the provider's request is a CLIENT span in it
        span = tracing.start(f"loomgit.execute {lp.id}", attributes=execute_attrs(lp, model))
        if not stream:
            try:
                with tracing.prompt_context(lp), tracing.activate(span):
                    c = await client.complete(str(model), messages, sent)
            except BaseException as e:  # every failure ends the span; counted if it is ours
                tracing.finish(span, e)
                if isinstance(e, LoomgitError):
                    self._count(lp, str(model), None, type(e).__name__)
                raise
            tracing.completion(span, c)
            tracing.finish(span)
            self._count(lp, str(model), c)
            return json_response(
                {
                    "completion": completion_json(c),
                    "lineage": lineage(lp, c, (time.perf_counter() - t0) * 1000),
                }
            )
        # the answer starts with the first chunk: a call that fails before it is an error
        # answer with its status, not a stream
        items = aiter(client.stream(str(model), messages, sent))
        try:
            with tracing.prompt_context(lp), tracing.activate(span):
                first = await anext(items)
        except BaseException as e:
            tracing.finish(span, e)
            if isinstance(e, LoomgitError):
                self._count(lp, str(model), None, type(e).__name__)
            raise
        return StreamingResponse(
            self._events(first, items, lp, str(model), t0, span),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(
        self,
        first: str | Completion,
        items: AsyncIterator[str | Completion],
        lp: LoadedPrompt,
        model: str,
        t0: float,
        span: Any = None,
    ) -> AsyncIterator[bytes]:
        item: str | Completion | None = first
        error: BaseException | None = None
        try:
            while item is not None:
                if isinstance(item, Completion):
                    tracing.completion(span, item)
                    self._count(lp, model, item)
                    yield sse(
                        "completion",
                        {
                            "completion": completion_json(item),
                            "lineage": lineage(lp, item, (time.perf_counter() - t0) * 1000),
                        },
                    )
                else:
                    yield sse("delta", {"text": item})
                item = await anext(items, None)
        except LoomgitError as e:
            error = e
            self._count(lp, model, None, type(e).__name__)
            yield sse("error", from_loomgit(e).body())
        finally:
            tracing.finish(span, error)
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()


def execute_attrs(lp: LoadedPrompt, model: object) -> dict[str, Any] | None:
    """The execution span's attributes (None, not built, when tracing is off)."""
    return tracing.execute_attributes(lp, str(model)) if tracing.enabled() else None
