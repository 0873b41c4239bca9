"""`loomgit eval` at the concurrency asked for, under rate limits, and with slow or hanging
requests, counted at a real HTTP server on 127.0.0.1 (tests/provider_server.py): the flag
sets the requests in flight unless loomgit.yaml sets a lower limit (said once on stderr),
429s are retried within a time budget while the in-flight limit adapts, and the circuit
breaker opens for a server that keeps failing, not for one slow request."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from provider_server import FakeAPI, Reply, ok
from test_providers import OPENAI_ANSWER

from loomgit.config import Config
from loomgit.errors import ProviderError
from loomgit.providers import get_provider
from loomgit.providers.errors import ProviderHTTPError
from loomgit.providers.resilience import ResilienceSettings

PROMPT = """---
model: srv/tiny
variables:
  ticket: {type: string}
---
user:
Summarize: {{ ticket }}
"""
FAST = {"backoff_s": 0.01, "backoff_max_s": 0.05}  # retry waits of a test


def suite(n: int) -> str:
    cases = [
        {"name": f"c{i}", "vars": {"ticket": f"ticket {i}"}, "assert": [{"icontains": "printer"}]}
        for i in range(n)
    ]
    return json.dumps({"cases": cases})


def config(url: str, **settings: Any) -> str:
    entry = {"type": "openai", "base_url": url + "/v1", **FAST, **settings}
    return "providers:\n  srv: " + json.dumps(entry) + "\n"


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        yield server


def commit(repo: GitRepo, api: FakeAPI, n: int, **settings: Any) -> None:
    repo.commit(
        "suite",
        {
            "loomgit.yaml": config(api.base, **settings),
            "prompts/t.prompt": PROMPT,
            "prompts/t.tests.yaml": suite(n),
        },
    )


def run(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    r = cli(["eval", "--json", "--no-cache", "--no-log", *args], cwd=repo.path)
    return r.exit_code, json.loads(r.out), r.err


def errors(data: dict[str, Any]) -> list[str]:
    return [r["error"] for r in data["results"] if r["status"] == "error"]


def test_concurrency_flag_is_the_number_in_flight(repo: GitRepo, api: FakeAPI, cli: Any) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, delay=0.15)
    commit(repo, api, 48)
    code, data, err = run(cli, repo, "-j", "16")
    assert code == 0 and data["summary"]["passed"] == 48
    assert api.max_in_flight == 16  # not the provider's default of 8
    assert "max_concurrency" not in err


def test_a_configured_lower_limit_is_kept_and_said_once(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, delay=0.1)
    commit(repo, api, 24, max_concurrency=3)
    code, data, err = run(cli, repo, "-j", "12")
    assert code == 0 and data["summary"]["passed"] == 24
    assert api.max_in_flight == 3
    note = "provider 'srv' allows 3 requests at once (max_concurrency in loomgit.yaml)"
    assert err.count(note) == 1, err
    assert "3 in flight, not 12" in err


def test_a_configured_higher_limit_does_not_raise_the_flag(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    api.default = lambda req: ok(OPENAI_ANSWER, delay=0.1)
    commit(repo, api, 16, max_concurrency=50)
    code, _, err = run(cli, repo, "-j", "4")
    assert code == 0 and api.max_in_flight == 4 and "max_concurrency" not in err


def test_rate_limits_and_500s_are_ridden_out_and_reported(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    rng = random.Random(3)
    lock = threading.Lock()

    def flaky(req: Any) -> Reply:
        with lock:
            roll = rng.random()
        if roll < 0.2:
            return Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
        if roll < 0.3:
            return Reply(500, {"error": {"message": "oops"}})
        return ok(OPENAI_ANSWER, delay=0.01)

    api.default = flaky
    commit(repo, api, 150, retries=6)
    r = cli(["eval", "--no-cache", "--no-log", "-j", "16"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    assert "150 passed, 0 failed, 0 errors" in r.out
    statuses = [req for req in api.requests]
    assert len(statuses) > 170  # the server did refuse some on purpose
    line = next(ln for ln in r.out.splitlines() if "rate limited" in ln)
    assert line.startswith("srv: rate limited ") and " times; in-flight limit 16 -> " in line
    n = int(line.split()[3])
    assert n >= 10


def test_many_429s_do_not_use_up_the_retries(api: FakeAPI, tmp_path: Path) -> None:
    limited = Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
    api.queue(*[limited] * 6, ok(OPENAI_ANSWER))
    [c] = call(api, tmp_path, ResilienceSettings(retries=1, **FAST))
    assert c.text == "Printer fire, floor 3." and c.attempts == 7


def test_429s_past_the_rate_limit_budget_end_in_one_clear_error(
    api: FakeAPI, tmp_path: Path
) -> None:
    api.default = lambda req: Reply(
        429, {"error": {"message": "slow"}}, headers={"Retry-After": "0.1"}
    )
    t0 = time.monotonic()
    [e] = call(api, tmp_path, ResilienceSettings(rate_limit_budget_s=0.35, **FAST))
    assert time.monotonic() - t0 < 2.0
    assert isinstance(e, ProviderHTTPError) and e.status == 429
    assert len(api.requests) == 4  # three waits of 0.1 s fit, the fourth would not
    assert str(e).endswith(
        "(rate limited 4 times; the provider asked to wait 0.1 s would pass the rate-limit "
        "budget of 0.35 s (rate_limit_budget_s))"
    )


def test_retry_after_as_an_http_date_is_waited_for(api: FakeAPI, tmp_path: Path) -> None:
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
    api.queue(Reply(429, {"error": {"message": "slow"}}, headers={"Retry-After": date}))
    api.queue(ok(OPENAI_ANSWER))
    t0 = time.monotonic()
    [c] = call(api, tmp_path, ResilienceSettings(**FAST))
    took = time.monotonic() - t0
    assert c.attempts == 2 and 0.9 < took < 3.0  # 1-2 s (the date has whole seconds)


def call(api: FakeAPI, tmp_path: Path, s: ResilienceSettings) -> list[Any]:
    cfg = Config(root=tmp_path, providers={"srv": {"type": "openai", "base_url": api.base + "/v1"}})

    async def go() -> list[Any]:
        async with get_provider("srv/m", cfg, env={}, settings=s) as p:
            try:
                return [await p.complete([{"role": "user", "content": "hi"}], {})]
            except ProviderError as e:
                return [e]

    return asyncio.run(go())


def test_one_hanging_request_among_many_does_not_open_the_breaker(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    def answer(req: Any) -> Reply:  # case c7 hangs, each time it is sent
        return Reply(action="hang") if b"ticket 7" in req.body else ok(OPENAI_ANSWER, delay=0.02)

    api.default = answer
    commit(repo, api, 40, timeout_s=0.4, retries=1, breaker_failures=2)
    code, data, _ = run(cli, repo, "-j", "4")
    assert data["summary"]["passed"] == 39 and code == 3
    [err] = errors(data)
    assert "srv/tiny: no answer from http://127.0.0.1:" in err
    assert "within 0.4 s (waiting for the answer) (gave up after 2 attempts)" in err
    assert len(api.requests) == 41


def test_a_server_that_keeps_timing_out_opens_the_breaker(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    api.default = lambda req: Reply(action="hang")
    commit(repo, api, 30, timeout_s=0.3, retries=0, breaker_failures=3)
    t0 = time.monotonic()
    code, data, _ = run(cli, repo, "-j", "2")
    assert time.monotonic() - t0 < 5
    assert code == 3 and data["summary"]["errors"] == 30
    msgs = errors(data)
    held = [m for m in msgs if "not sent: " in m]
    sent = [m for m in msgs if m not in held]
    assert all("no answer from" in m and "within 0.3 s" in m for m in sent)
    assert 3 <= len(sent) <= 4 and len(sent) + len(held) == 30
    assert len(api.requests) == len(sent)  # each message says whether that case was sent
    assert any(
        "srv/tiny: not sent: circuit open after 3 timeouts in a row from this provider (last: " in m
        for m in held
    )
    assert not any("not called" in m for m in msgs)


def test_a_retried_case_says_it_was_sent_when_the_circuit_opens(
    api: FakeAPI, tmp_path: Path
) -> None:
    api.default = lambda req: Reply(500, {"error": {"message": "down"}})
    s = ResilienceSettings(retries=3, breaker_failures=2, **FAST)
    cfg = Config(root=tmp_path, providers={"srv": {"type": "openai", "base_url": api.base + "/v1"}})

    async def go() -> list[Any]:
        async with get_provider("srv/m", cfg, env={}, settings=s) as p:

            async def one() -> Any:
                try:
                    return await p.complete([{"role": "user", "content": "hi"}], {})
                except ProviderError as e:
                    return e

            return list(await asyncio.gather(one(), one()))

    msgs = [str(e) for e in asyncio.run(go())]
    assert any(
        ": sent " in m and "; not retried: circuit open after 2 server errors" in m for m in msgs
    ), msgs


def test_in_flight_limit_halves_once_per_round_and_grows_back() -> None:
    from loomgit.providers.pacing import AdaptiveLimit

    lim = AdaptiveLimit(32)
    first = lim.epoch
    lim.throttled(first)
    lim.throttled(first)  # a 429 of a request sent before the cut does not cut again
    assert lim.limit == 16 and lim.rate_limited == 2
    lim.throttled(lim.epoch)
    assert lim.limit == 8
    for _ in range(8 + 9 + 10):
        lim.succeeded()
    assert lim.limit == 11
    while lim.limit < 32:
        lim.succeeded()
    assert lim.story() == "in-flight limit 32 -> 8 -> 32"
    for _ in range(100):
        lim.succeeded()
    assert lim.limit == 32  # never past the ceiling
