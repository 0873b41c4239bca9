"""Fault injection against a real server on 127.0.0.1: 429 with Retry-After, 500, a hang, a
closed connection, invalid JSON, a truncated body. Each ends in an answer or one clear
error, within the time budget; keys never show up in errors or logs."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from provider_server import FakeAPI, Reply, ok
from test_providers import OPENAI_ANSWER

from loomgit.config import Config
from loomgit.errors import ProviderError
from loomgit.providers import ModelClient, get_provider
from loomgit.providers.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderRejected,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from loomgit.providers.http import parse_retry_after
from loomgit.providers.resilience import CircuitBreaker, ResilienceSettings, backoff_delay

KEY = "sk-live-VERYSECRET-abcdef0123456789"
USER = [{"role": "user", "content": "hi"}]


def settings(**kw: Any) -> ResilienceSettings:
    base = dict(
        timeout_s=0.5,
        total_timeout_s=4.0,
        retries=2,
        backoff_s=0.01,
        backoff_max_s=0.02,
        breaker_failures=100,
    )
    base.update(kw)
    return ResilienceSettings(**base)  # type: ignore[arg-type]


def config(api: FakeAPI, tmp_path: Path) -> Config:
    return Config(
        root=tmp_path,
        providers={
            "srv": {"type": "openai", "base_url": api.base + "/v1", "api_key_env": "SRV_KEY"}
        },
    )


def call(
    api: FakeAPI, tmp_path: Path, s: ResilienceSettings, n: int = 1, parallel: bool = False
) -> list[Any]:
    """n calls through one provider; each result is a Completion or the error raised."""

    async def go() -> list[Any]:
        async with get_provider(
            "srv/m", config(api, tmp_path), env={"SRV_KEY": KEY}, settings=s
        ) as p:

            async def one() -> Any:
                try:
                    return await p.complete(USER, {})
                except ProviderError as e:
                    return e

            if parallel:
                return list(await asyncio.gather(*(one() for _ in range(n))))
            return [await one() for _ in range(n)]

    return asyncio.run(go())


@pytest.fixture
def api() -> Any:
    with FakeAPI() as server:
        yield server


def test_429_waits_what_retry_after_says(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        Reply(
            429,
            {
                "error": {
                    "message": "Rate limit reached for gpt-4o-mini",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                }
            },
            headers={"Retry-After": "0.3"},
        ),
        ok(OPENAI_ANSWER),
    )
    t0 = time.monotonic()
    [c] = call(api, tmp_path, settings())
    elapsed = time.monotonic() - t0
    assert c.text == "Printer fire, floor 3." and c.attempts == 2
    assert 0.3 <= elapsed < 2.0  # the server's wait, not the 10 ms backoff


def test_retry_after_ms_and_http_date() -> None:
    import httpx

    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx.Headers({"retry-after": "7"})) == 7.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < (parse_retry_after(httpx.Headers({"retry-after": date})) or 0) <= 30
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None


def test_retry_after_beyond_the_budget_gives_up_at_once(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "120"}))
    t0 = time.monotonic()
    [e] = call(api, tmp_path, settings(total_timeout_s=2.0))
    assert time.monotonic() - t0 < 1.0
    assert isinstance(e, ProviderHTTPError) and e.status == 429
    assert "rate limited (HTTP 429: slow down)" in str(e)
    assert "the provider asked to wait 120 s would pass the call's budget of 2 s" in str(e)


def test_500s_are_retried_then_answered(api: FakeAPI, tmp_path: Path) -> None:
    err = Reply(500, {"error": {"message": "The server had an error", "type": "server_error"}})
    api.queue(err, Reply(503, body=b"<html>Service Unavailable</html>"), ok(OPENAI_ANSWER))
    [c] = call(api, tmp_path, settings())
    assert c.attempts == 3 and len(api.requests) == 3


def test_500s_that_persist_end_in_one_clear_error(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: Reply(502, body=b"<html><h1>502 Bad Gateway</h1></html>")
    [e] = call(api, tmp_path, settings(retries=3))
    assert isinstance(e, ProviderHTTPError) and len(api.requests) == 4
    msg = str(e)
    assert msg.startswith("srv/m: server error from http://127.0.0.1:")
    assert "HTTP 502: <html><h1>502 Bad Gateway</h1></html>" in msg
    assert msg.endswith("(gave up after 4 attempts)") and "\n" not in msg


def test_a_hang_times_out(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: Reply(action="hang")
    t0 = time.monotonic()
    [e] = call(api, tmp_path, settings(timeout_s=0.3, retries=1))
    assert time.monotonic() - t0 < 2.0
    assert isinstance(e, ProviderTimeout) and len(api.requests) == 2
    assert "no answer from http://127.0.0.1" in str(
        e
    ) and "within 0.3 s (waiting for the answer)" in str(e)


def test_total_timeout_bounds_the_whole_call(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: Reply(action="hang")
    t0 = time.monotonic()
    [e] = call(api, tmp_path, settings(timeout_s=30, total_timeout_s=0.4, retries=5))
    assert 0.35 < time.monotonic() - t0 < 1.5
    assert isinstance(e, ProviderTimeout)
    assert (
        "no answer within the call's budget of 0.4 s (total_timeout_s) after 1 attempt(s)" in str(e)
    )


def test_closed_connection_is_retried(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(Reply(action="close"), ok(OPENAI_ANSWER))
    [c] = call(api, tmp_path, settings())
    assert c.attempts == 2
    api.default = lambda req: Reply(action="close")
    [e] = call(api, tmp_path, settings(retries=1))
    assert isinstance(e, ProviderConnectionError)
    assert "failed before a complete answer: Server disconnected without sending a response" in str(
        e
    )


def test_truncated_body(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, action="truncate")
    [e] = call(api, tmp_path, settings(retries=1))
    assert isinstance(e, ProviderConnectionError) and len(api.requests) == 2
    assert "peer closed connection without sending complete message body" in str(e)


def test_invalid_json(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(Reply(200, body=b'{"choices": [{"message": '), ok(OPENAI_ANSWER))
    [c] = call(api, tmp_path, settings())
    assert c.attempts == 2
    api.default = lambda req: Reply(200, body=b"<!doctype html><title>Captive portal</title>")
    [e] = call(api, tmp_path, settings(retries=1))
    assert isinstance(e, ProviderResponseError)
    assert (
        "answered HTTP 200 with invalid JSON (<!doctype html><title>Captive portal</title>)"
        in str(e)
    )


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, ProviderRejected),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderRejected),
        (413, ProviderRejected),
    ],
)
def test_caller_errors_are_not_retried(
    status: int, cls: type, api: FakeAPI, tmp_path: Path
) -> None:
    api.default = lambda req: Reply(status, {"error": {"message": f"nope {status}"}})
    [e] = call(api, tmp_path, settings(retries=5))
    assert type(e) is cls and len(api.requests) == 1 and e.status == status
    assert f"HTTP {status}: nope {status}" in str(e)
    if status in (401, 403):
        assert "check that $SRV_KEY holds a valid key" in str(e)


def test_circuit_breaker_stops_calling_a_failing_provider(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: Reply(500, {"error": {"message": "down"}})
    s = settings(retries=0, breaker_failures=2, breaker_reset_s=0.3)

    async def go() -> list[Any]:
        out: list[Any] = []
        async with get_provider(
            "srv/m", config(api, tmp_path), env={"SRV_KEY": KEY}, settings=s
        ) as p:
            for pause in (0, 0, 0, 0.35, 0):
                await asyncio.sleep(pause)
                try:
                    out.append(await p.complete(USER, {}))
                except ProviderError as e:
                    out.append(e)
        return out

    results = asyncio.run(go())
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "ProviderHTTPError",
        "ProviderHTTPError",
        "ProviderUnavailable",
        "ProviderHTTPError",
        "ProviderUnavailable",
    ]
    # the open circuit sent nothing; after reset_s one trial went through, failed, reopened
    assert len(api.requests) == 3
    assert (
        "not sent: circuit open after 2 server errors in a row from this provider (last: "
        in str(results[2])
    )


def test_breaker_closes_after_a_good_trial() -> None:
    now = [0.0]
    b = CircuitBreaker(2, 10, clock=lambda: now[0])
    b.failure(RuntimeError("x: boom"))
    b.failure(RuntimeError("x: boom"))
    assert b.state == "open"
    with pytest.raises(ProviderUnavailable, match="trying again in 10 s"):
        b.check("m")
    now[0] = 11
    b.check("m")  # the trial
    with pytest.raises(ProviderUnavailable, match="a trial call is under way"):
        b.check("m")
    b.success()
    assert b.state == "closed"
    b.check("m")


def test_concurrency_limit(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, delay=0.1)
    results = call(api, tmp_path, settings(max_concurrency=2), n=6, parallel=True)
    assert all(r.text for r in results)
    assert api.max_in_flight == 2


def test_concurrency_is_shared_by_the_models_of_one_provider(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, delay=0.1)
    cfg = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": api.base + "/v1", "max_concurrency": 1}},
    )

    async def go() -> None:
        async with ModelClient(cfg, cache=False, settings=settings()) as client:
            await asyncio.gather(*(client.complete(f"srv/m{i}", USER) for i in range(4)))

    asyncio.run(go())
    assert api.max_in_flight == 1 and len(api.requests) == 4


def test_requests_per_minute(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER)
    t0 = time.monotonic()
    results = call(api, tmp_path, settings(rpm=600), n=4, parallel=True)
    assert all(r.text for r in results)
    assert time.monotonic() - t0 >= 0.29  # 4 starts, 0.1 s apart


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    import random

    s = ResilienceSettings(backoff_s=1.0, backoff_max_s=8.0)
    rng = random.Random(1)
    waits = [[backoff_delay(n, s, None, rng) for n in (1, 2, 3, 4, 5)] for _ in range(50)]
    for w in waits:
        assert (
            0.5 <= w[0] <= 1
            and 1 <= w[1] <= 2
            and 2 <= w[2] <= 4
            and 4 <= w[3] <= 8
            and 4 <= w[4] <= 8
        )
    assert len({round(w[2], 6) for w in waits}) > 10  # jittered
    assert backoff_delay(1, s, 3.5) == 3.5


def test_keys_never_reach_errors_or_logs(
    api: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a hostile or careless server echoes the key back in every error
    def echo_key(req: Any) -> Reply:
        status = 500 if len(api.requests) < 3 else 401
        return Reply(status, {"error": {"message": f"bad auth {req.headers['authorization']}"}})

    api.default = echo_key
    caplog.set_level(logging.DEBUG)
    [e] = call(api, tmp_path, settings(retries=3))
    assert isinstance(e, ProviderAuthError)
    assert KEY not in str(e) and "bad auth Bearer ***" in str(e)
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_settings_from_loomgit_yaml_are_checked(tmp_path: Path) -> None:
    from loomgit.providers.errors import ProviderConfigError

    cfg = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": "http://x/v1", "retries": "many"}},
    )
    with pytest.raises(
        ProviderConfigError, match=r"providers.srv.retries: expected a whole number, got 'many'"
    ):
        get_provider("srv/m", cfg, env={})
    cfg = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": "http://x/v1", "timeout_s": 0}},
    )
    with pytest.raises(ProviderConfigError, match="timeout_s: must be positive"):
        get_provider("srv/m", cfg, env={})
    cfg = Config(
        root=tmp_path,
        providers={
            "srv": {
                "type": "openai",
                "base_url": "http://x/v1",
                "retries": 0,
                "rpm": 30,
                "timeout_s": 5,
            }
        },
    )
    p = get_provider("srv/m", cfg, env={})
    assert (p.settings.retries, p.settings.rpm, p.settings.timeout_s) == (0, 30.0, 5.0)  # type: ignore[attr-defined]
