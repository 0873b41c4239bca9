"""Streaming answers over HTTP: a POST whose answer is a stream of Server-Sent Events
(``text/event-stream``, as the WHATWG HTML standard defines it), read as it arrives.

Errors are worded as :meth:`HTTPProvider.post` words them: an HTTP error status before
the stream starts is the provider's error; a connection that breaks part way is a
connection error (nothing is retried once text has been passed on).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from loomgit import tracing
from loomgit.providers.http import HTTPProvider


async def post_events(p: HTTPProvider, path: str, body: dict[str, Any]) -> AsyncIterator[str]:
    """POST ``body`` as JSON to ``p``'s ``base_url + path`` and yield the ``data`` of each
    event (its ``data:`` lines joined by newlines) as it arrives."""
    import httpx  # start-up: the network stack only when a request is made

    url, shown, headers, timeout = p.target(path, "text/event-stream")
    # not the current span: the generator may be closed in another context
    with tracing.model_call(p.name, p.model, current=False) as span:
        try:
            async with p.client().stream(
                "POST", url, json=body, headers=headers, timeout=timeout
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise p.http_error(resp, shown)
                data: list[str] = []
                async for line in resp.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    elif not line and data:  # a blank line ends an event
                        event = "\n".join(data)
                        if span is not None:
                            _traced(span, event)
                        yield event
                        data = []
                if data:
                    event = "\n".join(data)
                    if span is not None:
                        _traced(span, event)
                    yield event
        except (httpx.TransportError, httpx.InvalidURL) as e:
            raise p.failed(e, shown) from None


def _traced(span: Any, event: str) -> None:
    """The response attributes an event carries (model, usage, finish reason)."""
    try:
        d = json.loads(event)
    except ValueError:
        return
    if isinstance(d, dict):
        if isinstance(d.get("message"), dict):  # Anthropic's message_start
            d = d["message"]
        elif isinstance(d.get("delta"), dict) and "stop_reason" in d["delta"]:
            d = {**d, "stop_reason": d["delta"]["stop_reason"]}  # and message_delta
        tracing.response(span, d)
