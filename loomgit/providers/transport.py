"""An ``httpx`` transport that sends requests with aiohttp's HTTP/1.1 client.

httpx's own transport (httpcore on anyio) costs about 2 ms of CPU per request at 32 in
flight, which is the whole budget of a fast eval; aiohttp's costs about 0.4 ms
(``bench/bench_eval.py`` prints both). Providers keep speaking httpx: this is the
``transport=`` of loomgit's own ``httpx.AsyncClient`` (:func:`client_class`, which also
posts JSON straight to it). aiohttp's errors become httpx's, so
:mod:`loomgit.providers.http` words them as before.

``LOOMGIT_HTTP_TRANSPORT=httpx`` keeps httpx's own, and so do a proxy set in the
environment (httpx's handling of ``HTTPS_PROXY``/``NO_PROXY`` stays the one in force; asking
aiohttp to read the environment costs two thread hops per request) and aiohttp not being
installed.
aiohttp and httpx are imported when the first client is made (start-up stays light).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_DROP = {"content-encoding", "content-length", "transfer-encoding"}  # aiohttp decoded the body
_OWN = {"host", "accept-encoding"}  # aiohttp sets these itself (the encodings it can decode)


def _mapped(e: BaseException) -> httpx.TransportError:
    """aiohttp's exception as the httpx one that means the same."""
    import aiohttp.client_exceptions as E
    import httpx

    if isinstance(e, E.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(e) or "timed out connecting")
    if isinstance(e, (E.SocketTimeoutError, E.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(str(e) or "timed out waiting for the answer")
    if isinstance(e, (E.NonHttpUrlClientError, E.InvalidUrlClientError)):
        return httpx.UnsupportedProtocol(str(e))
    if isinstance(e, E.ClientConnectorError):
        err = e.os_error
        if err is not None and err.errno == errno.ECONNREFUSED:
            return httpx.ConnectError("connection refused")
        reason = (err.strerror if err is not None else None) or str(e)
        return httpx.ConnectError(str(reason).lower() if reason else "connection refused")
    if isinstance(e, E.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response")
    if isinstance(e, E.ClientPayloadError):
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )
    if isinstance(e, E.ClientOSError):
        return httpx.ReadError(e.strerror or str(e) or "the connection was reset")
    return httpx.RemoteProtocolError(str(e) or type(e).__name__)


@functools.cache
def _transport_class() -> type[httpx.AsyncBaseTransport]:
    import aiohttp
    import httpx

    class Body(httpx.AsyncByteStream):
        """An aiohttp response body read as it arrives (for ``text/event-stream``)."""

        def __init__(self, resp: aiohttp.ClientResponse) -> None:
            self.resp = resp

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self.resp.content.iter_any():
                    yield chunk
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                raise _mapped(e) from e

        async def aclose(self) -> None:
            self.resp.release()

    class AiohttpTransport(httpx.AsyncBaseTransport):
        """One aiohttp session (created in the running loop on the first request) with
        ``connections`` kept-alive connections."""

        def __init__(self, connections: int = 64) -> None:
            self.connections = connections
            self._sessions: dict[str, aiohttp.ClientSession] = {}  # by scheme
            self._loop: asyncio.AbstractEventLoop | None = None
            self._timeouts: dict[tuple[Any, Any, Any], aiohttp.ClientTimeout] = {}

        def _get_session(self, scheme: str) -> aiohttp.ClientSession:
            loop = asyncio.get_running_loop()
            if self._loop is not loop:
                self._sessions, self._loop = {}, loop
            session = self._sessions.get(scheme)
            if session is None:
                # httpx's CA bundle (and SSL_CERT_FILE), built only when https is used
                ssl = httpx.create_ssl_context() if scheme == "https" else False
                connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ssl=ssl)
                session = aiohttp.ClientSession(
                    connector=connector, trust_env=False, auto_decompress=True
                )
                self._sessions[scheme] = session
            return session

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _OWN]
            return await self.send(
                request.method,
                request.url,
                headers,
                request.content or None,
                request.extensions.get("timeout", {}),
                request.headers.get("accept") == "text/event-stream",
                request,
            )

        async def send(
            self,
            method: str,
            url: httpx.URL,
            headers: list[tuple[str, str]],
            content: bytes | None,
            t: dict[str, Any],
            streamed: bool = False,  # an event stream is passed on as it arrives
            request: httpx.Request | None = None,
        ) -> httpx.Response:
            session = self._get_session(url.scheme)
            key = (t.get("pool"), t.get("connect"), t.get("read"))
            timeout = self._timeouts.get(key)
            if timeout is None:
                timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                    total=None, connect=key[0], sock_connect=key[1], sock_read=key[2]
                )
            try:
                resp = await session.request(
                    method,
                    str(url),
                    headers=headers,
                    data=content,
                    allow_redirects=False,
                    timeout=timeout,
                )
                try:
                    body = b"" if streamed else await resp.read()
                finally:
                    if not streamed:
                        resp.release()
                status, reason = resp.status, resp.reason
                raw = [
                    (k, v) for k, v in resp.raw_headers if k.decode("latin-1").lower() not in _DROP
                ]
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                raise _mapped(e) from e
            extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
            if reason:
                extensions["reason_phrase"] = reason.encode("latin-1", "replace")
            if streamed:
                return httpx.Response(
                    status, headers=raw, stream=Body(resp), request=request, extensions=extensions
                )
            return httpx.Response(
                status, headers=raw, content=body, request=request, extensions=extensions
            )

        async def aclose(self) -> None:
            sessions, self._sessions = self._sessions, {}
            for session in sessions.values():
                if not session.closed:
                    await session.close()

    return AiohttpTransport


@functools.cache
def client_class() -> type[httpx.AsyncClient]:
    """loomgit's own ``httpx.AsyncClient`` over the aiohttp transport: a JSON ``post``
    (what every provider request is) goes straight to the transport with the headers and
    bytes httpx's client layer would send (the client's headers, then the request's; the
    same JSON). That layer (building the request, the auth and redirect flows, cookies)
    does nothing for such a request and cost about 0.1 ms of the 0.28 ms it took. Anything
    else, or a client with event hooks, takes httpx's own path."""
    import httpx

    class Client(httpx.AsyncClient):
        def __init__(self, **kw: Any) -> None:  # transport=: an AiohttpTransport
            super().__init__(**kw)
            self._fast = kw["transport"]

        async def post(self, url: Any, **kw: Any) -> httpx.Response:
            body = kw.get("json")
            plain = body is not None and not set(kw) - {"json", "headers", "timeout"}
            if not plain or any(self.event_hooks.values()):  # hooks: httpx must run them
                return await super().post(url, **kw)
            merged = {k.lower(): (k, v) for k, v in self.headers.items() if k.lower() not in _OWN}
            for k, v in (kw.get("headers") or {}).items():
                merged[k.lower()] = (k, v)
            timeout = kw.get("timeout", httpx.USE_CLIENT_DEFAULT)
            timeout = (
                self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
            )
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            return await self._fast.send(  # type: ignore[no-any-return]
                "POST",
                url if isinstance(url, httpx.URL) else httpx.URL(url),
                list(merged.values()),
                data.encode("utf-8"),
                timeout.as_dict(),
            )

    return Client


def transport(connections: int) -> httpx.AsyncBaseTransport | None:
    """The transport for a pooled client; None for httpx's own (see the module docstring)."""
    if os.environ.get("LOOMGIT_HTTP_TRANSPORT", "").strip().lower() == "httpx":
        return None
    proxies = ("http_proxy", "https_proxy", "all_proxy")
    if any(k.lower() in proxies and v for k, v in os.environ.items()):
        return None
    try:
        cls = _transport_class()
    except ImportError:
        return None
    return cls(connections)  # type: ignore[call-arg]
