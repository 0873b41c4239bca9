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
