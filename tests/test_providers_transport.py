"""The aiohttp transport under httpx says what httpx's own says, for answers and for faults,
against a real server on 127.0.0.1 (LOOMGIT_HTTP_TRANSPORT=httpx selects httpx's own)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from provider_server import FakeAPI, Reply, ok
from test_providers import OPENAI_ANSWER

from loomgit.config import Config
from loomgit.errors import ProviderError
from loomgit.providers import ModelClient
from loomgit.providers.resilience import ResilienceSettings

S = ResilienceSettings(retries=0, timeout_s=0.3, backoff_s=0.01)


def one(base: str, tmp_path: Path) -> Any:
    cfg = Config(root=tmp_path, providers={"srv": {"type": "openai", "base_url": base + "/v1"}})

    async def go() -> Any:
        async with ModelClient(cfg, cache=False, settings=S) as client:
            try:
                return await client.complete("srv/m", [{"role": "user", "content": "hi"}])
            except ProviderError as e:
                return e

    return asyncio.run(go())


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOOMGIT_HTTP_TRANSPORT", request.param)
    return str(request.param)


@pytest.mark.parametrize(
    "reply, words",
    [
        (Reply(action="close"), "Server disconnected without sending a response"),
        (ok(OPENAI_ANSWER, action="truncate"), "without sending complete message body"),
        (Reply(action="hang"), "within 0.3 s (waiting for the answer)"),
        (
            Reply(503, {"error": {"message": "busy"}}, headers={"Retry-After": "0"}),
            "HTTP 503: busy",
        ),
    ],
)
def test_faults_read_the_same_on_both_transports(
    transport: str, reply: Reply, words: str, tmp_path: Path
) -> None:
    with FakeAPI() as api:
        api.default = lambda req: reply
        e = one(api.base, tmp_path)
    assert isinstance(e, ProviderError) and words in str(e), str(e)


def test_answers_and_headers_arrive_whole(transport: str, tmp_path: Path) -> None:
    with FakeAPI() as api:
        api.default = lambda req: ok(OPENAI_ANSWER)
        c = one(api.base, tmp_path)
        [req] = api.requests
    assert c.text == "Printer fire, floor 3." and c.usage.input_tokens > 0
    assert req.json["messages"] == [{"role": "user", "content": "hi"}]
    assert req.headers["content-type"] == "application/json"


def test_refused_connection(transport: str, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = one(f"http://127.0.0.1:{port}", tmp_path)
    assert isinstance(e, ProviderError)
    assert f"cannot connect to http://127.0.0.1:{port}/v1/chat/completions: " in str(e)
    assert "is the server running?" in str(e)


def test_loomgit_clients_post_what_httpx_client_layer_would(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """loomgit's own clients post JSON straight to aiohttp; the bytes on the wire are those
    httpx's client layer sends through the same transport (defaults, then the entry's
    headers, then the key; the same JSON)."""
    import httpx

    from loomgit.providers.http import _no_cookies
    from loomgit.providers.transport import transport

    monkeypatch.delenv("LOOMGIT_HTTP_TRANSPORT", raising=False)
    entry = {
        "type": "openai",
        "api_key_env": "SRV_KEY",
        "headers": {"X-Team": "ops", "accept": "application/json"},  # any case overrides
    }
    messages = [{"role": "user", "content": 'naïve café — 東京 "quoted" \\ back'}]
    with FakeAPI() as api:
        api.default = lambda req: ok(OPENAI_ANSWER)
        cfg = Config(root=tmp_path, providers={"srv": {**entry, "base_url": api.base + "/v1"}})

        async def go(layer: bool) -> Any:
            http = None
            if layer:  # an httpx client around the same transport: httpx's client layer
                http = httpx.AsyncClient(transport=transport(8), cookies=_no_cookies())
            async with ModelClient(
                cfg, cache=False, settings=S, env={"SRV_KEY": "k-123456789"}, http=http
            ) as client:
                c = await client.complete("srv/m", messages, {"temperature": 0.5})
            if http is not None:
                await http.aclose()
            return c

        for layer in (False, True):
            assert asyncio.run(go(layer)).text == "Printer fire, floor 3."
        seen = api.requests
    direct, layered = seen
    assert direct.body == layered.body and direct.json["messages"] == messages
    assert direct.headers == layered.headers
    assert direct.headers["x-team"] == "ops" and direct.headers["accept"] == "application/json"
    assert direct.headers["authorization"] == "Bearer k-123456789"
    assert direct.headers["user-agent"].startswith("python-httpx/")
