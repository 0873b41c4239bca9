"""The response cache, recordings (record / replay) and prices, through ModelClient with a
real server on 127.0.0.1 and real files."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_server import FakeAPI, Reply, ok
from test_providers import OPENAI_ANSWER

from loomgit.config import Config, parse_config
from loomgit.errors import ProviderError
from loomgit.providers import ModelClient, ResponseCache, request_key
from loomgit.providers.base import Completion, Usage
from loomgit.providers.cache import cache_from_config, parse_ttl
from loomgit.providers.errors import ProviderConfigError, RecordingMissing
from loomgit.providers.pricing import PriceTable, cost_usd
from loomgit.providers.resilience import ResilienceSettings

KEY = "sk-cache-SECRET-9876543210"
USER = [{"role": "user", "content": "Summarize: printer on fire"}]
FAST = ResilienceSettings(
    timeout_s=1, total_timeout_s=3, retries=0, backoff_s=0.01, breaker_failures=100
)


@pytest.fixture
def api() -> Any:
    with FakeAPI() as server:
        server.default = lambda req: ok(OPENAI_ANSWER)
        yield server


def config(tmp_path: Path, api: FakeAPI | None = None, **extra: Any) -> Config:
    base = api.base if api else "http://127.0.0.1:9"
    return Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": base + "/v1", "api_key_env": "SRV_KEY"}},
        raw=extra,
    )


def client(cfg: Config, **kw: Any) -> ModelClient:
    kw.setdefault("settings", FAST)
    return ModelClient(cfg, env={"SRV_KEY": KEY}, **kw)


def calls(cfg: Config, *reqs: dict[str, Any], **kw: Any) -> list[Any]:
    """Run complete() for each request dict; errors come back as values."""

    async def go() -> list[Any]:
        out = []
        async with client(cfg, **kw) as c:
            for r in reqs:
                try:
                    out.append(
                        await c.complete(
                            r.get("model", "srv/m"),
                            r.get("messages", USER),
                            r.get("params", {}),
                            sample=r.get("sample", 0),
                            use_cache=r.get("use_cache", True),
                            label=r.get("label"),
                        )
                    )
                except ProviderError as e:
                    out.append(e)
        return out

    return asyncio.run(go())


def all_text(root: Path) -> str:
    """Every byte under ``root`` as text (the cache database and its WAL file included)."""
    return "".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


def answers(cache_dir: Path) -> list[tuple[str, str]]:
    """(key, kind) of each answer in the cache database under ``cache_dir``."""
    con = sqlite3.connect(cache_dir / "answers.sqlite")
    try:
        return con.execute("SELECT key, kind FROM answers").fetchall()
    finally:
        con.close()


# -- cache -------------------------------------------------------------------------------


def test_second_identical_call_is_served_from_the_cache(api: FakeAPI, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    first, second = calls(config(tmp_path, api), {}, {})
    assert len(api.requests) == 1
    assert not first.cached and second.cached
    assert second.text == first.text and second.usage == first.usage
    assert second.cost_usd == first.cost_usd
    assert second.latency_ms == pytest.approx(first.latency_ms, abs=0.001)
    cache_dir = tmp_path / ".git" / "loomgit" / "cache"  # the default place
    assert len(answers(cache_dir)) == 1
    assert stat.S_IMODE((cache_dir / "answers.sqlite").stat().st_mode) == 0o600  # private


def test_cache_survives_a_new_client_and_keys_everything_that_matters(
    api: FakeAPI, tmp_path: Path
) -> None:
    cfg = config(tmp_path, api)
    calls(cfg, {})
    calls(
        cfg,
        {},
        {"params": {"temperature": 0.5}},
        {"sample": 1},
        {"sample": 1},
        {"messages": [{"role": "user", "content": "other"}]},
        {"model": "srv/other"},
    )
    # the repeat of the first call and of sample 1 were hits; the rest differ in one part
    assert len(api.requests) == 5


def test_use_cache_false_skips_reading_but_refreshes(api: FakeAPI, tmp_path: Path) -> None:
    cfg = config(tmp_path, api)
    a, b, c = calls(cfg, {}, {"use_cache": False}, {})
    assert len(api.requests) == 2 and not b.cached and c.cached


def test_errors_are_never_cached(api: FakeAPI, tmp_path: Path) -> None:
    api.default = None
    api.queue(Reply(500, {"error": {"message": "boom"}}), ok(OPENAI_ANSWER))
    cache_dir = tmp_path / "c"
    err, good, again = calls(config(tmp_path, api, cache={"dir": "c"}), {}, {}, {})
    assert isinstance(err, ProviderError)
    assert good.text and not good.cached and again.cached
    assert len(answers(cache_dir)) == 1


def test_ttl_expiry_and_corrupt_entries(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, ttl_s=60)
    c = Completion("hi", "srv/m", Usage(1, 2), 12.0, 0.001, "stop")
    cache.put("ab" * 32, c)
    got = cache.get("ab" * 32)
    assert got is not None and got.cached and got.text == "hi" and got.cost_usd == 0.001
    cache.flush()
    con = sqlite3.connect(tmp_path / "answers.sqlite", isolation_level=None)
    con.execute("UPDATE answers SET created = ?", (time.time() - 61,))
    assert cache.get("ab" * 32) is None  # expired
    assert ResponseCache(tmp_path, ttl_s=None).get("ab" * 32) is not None  # never expires
    con.execute("UPDATE answers SET value = ?", ('{"te',))
    con.close()
    assert cache.get("ab" * 32) is None  # corrupt: a miss, not a crash
    assert ResponseCache(tmp_path, ttl_s=None).get("cd" * 32) is None
    assert cache.stats.misses == 2 and cache.stats.hits == 1


def test_answers_kept_in_memory_reach_the_database_at_exit_and_alongside_others(
    tmp_path: Path,
) -> None:
    # a process that never closes its cache still writes its answers when it exits
    script = (
        "import sys; from loomgit.providers import ResponseCache\n"
        "from loomgit.providers.base import Completion, Usage\n"
        "c = ResponseCache(sys.argv[1])\n"
        "for i in range(5): c.put(f'{i:064x}', Completion(f'a{i}', 'srv/m', Usage(1, 2), 1.0, 0.0, 'stop'))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    assert len(answers(tmp_path)) == 5
    # two writers with answers in memory at once: neither holds a lock, both sets land
    one, two = ResponseCache(tmp_path), ResponseCache(tmp_path)
    for i in range(10):
        one.put(f"{i:062x}aa", Completion(f"one{i}", "srv/m", Usage(1, 2), 1.0, 0.0, "stop"))
        two.put(f"{i:062x}bb", Completion(f"two{i}", "srv/m", Usage(1, 2), 1.0, 0.0, "stop"))
    assert one.get(f"{3:062x}aa") is not None  # read back before it is written
    assert ResponseCache(tmp_path).get(f"{3:062x}aa") is None  # not yet in the database
    two.close()
    one.close()
    assert len(answers(tmp_path)) == 25
    got = ResponseCache(tmp_path).get(f"{3:062x}bb")
    assert got is not None and got.text == "two3"


def test_a_damaged_database_is_a_miss_and_writes_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "answers.sqlite").write_bytes(b"not a database, " * 100)
    cache = ResponseCache(tmp_path)
    c = Completion("hi", "srv/m", Usage(1, 2), 12.0, 0.001, "stop")
    cache.put("ab" * 32, c)  # no exception: a cache is never a reason to fail a call
    assert cache.get("ab" * 32) is None and cache.stats.writes == 0


def test_answers_cached_as_files_by_earlier_versions_are_still_read(tmp_path: Path) -> None:
    key = "ef" * 32
    value = Completion("old", "srv/m", Usage(1, 2), 12.0, 0.001, "stop").to_dict()
    (tmp_path / "ef").mkdir()
    doc = {"format": 1, "kind": "completion", "created": time.time(), "value": value}
    (tmp_path / "ef" / f"{key}.json").write_text(json.dumps(doc))
    got = ResponseCache(tmp_path).get(key)
    assert got is not None and got.text == "old" and got.cached
    cache = ResponseCache(tmp_path)
    cache.put("ab" * 32, Completion("new", "srv/m", Usage(1, 2), 12.0, 0.0, "stop"))
    assert cache.clear() == 2  # the database's row and the old file
    assert cache.get(key) is None and cache.get("ab" * 32) is None


def test_ttl_values() -> None:
    assert parse_ttl(3600) == 3600 and parse_ttl("90m") == 5400 and parse_ttl("7d") == 7 * 86400
    assert (
        parse_ttl("2w") == 14 * 86400 and parse_ttl("never") is None and parse_ttl("12h") == 43200
    )
    for bad in ("soon", "-1", True, -5):
        with pytest.raises(ValueError):
            parse_ttl(bad)


def test_cache_settings_from_loomgit_yaml(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    cfg = parse_config("cache: {dir: .cache/llm, ttl: 12h}\n", tmp_path)
    cache = cache_from_config(cfg)
    assert cache is not None and cache.dir == tmp_path / ".cache/llm" and cache.ttl_s == 43200
    assert cache_from_config(parse_config("cache: {enabled: false}\n", tmp_path)) is None
    with pytest.raises(ProviderConfigError, match="cache.ttl: 'often' is not a duration"):
        cache_from_config(parse_config("cache: {ttl: often}\n", tmp_path))
    with pytest.raises(ProviderConfigError, match="cache.ttl_s: unknown setting"):
        cache_from_config(parse_config("cache: {ttl_s: 5}\n", tmp_path))


def test_cache_in_a_worktree_uses_the_common_git_dir(tmp_path: Path) -> None:
    main = tmp_path / "main"
    (main / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (main / ".git" / "worktrees" / "wt" / "commondir").write_text("../..\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'wt'}\n")
    cache = cache_from_config(Config(root=wt))
    assert cache is not None and cache.dir == (main / ".git" / "loomgit" / "cache").resolve()


def test_request_key_is_stable_and_sample_aware() -> None:
    k = request_key("openai/gpt-4o-mini", {"temperature": 0, "max_tokens": 5}, USER)
    assert k == request_key("openai/gpt-4o-mini", {"max_tokens": 5, "temperature": 0}, USER)
    assert k == request_key("openai/gpt-4o-mini", {"max_tokens": 5, "temperature": 0}, USER, 0)
    assert (
        len(
            {
                k,
                request_key("openai/gpt-4o-mini", {"temperature": 0, "max_tokens": 5}, USER, 1),
                request_key("openai/gpt-4o", {"temperature": 0, "max_tokens": 5}, USER),
            }
        )
        == 3
    )


def test_embeddings_are_cached(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok(
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}]}
    )

    async def go() -> list[Any]:
        async with client(config(tmp_path, api)) as c:
            return [await c.embed("srv/emb", ["x"]), await c.embed("srv/emb", ["x"])]

    assert asyncio.run(go()) == [[[0.6, 0.8]], [[0.6, 0.8]]] and len(api.requests) == 1


# -- recordings --------------------------------------------------------------------------


def test_record_then_replay_without_network(api: FakeAPI, tmp_path: Path) -> None:
    cfg = config(tmp_path, api)
    rec = calls(cfg, {}, {"sample": 1}, mode="record", cache=False)
    assert len(api.requests) == 2
    files = sorted((tmp_path / ".loomgit" / "recordings" / "srv" / "m").glob("*.json"))
    assert len(files) == 2
    doc = json.loads(files[0].read_text())
    assert doc["model"] == "srv/m" and doc["messages"] == USER and doc["completion"]["text"]
    # replay with the server gone and no key at all
    offline = config(tmp_path)

    async def go() -> list[Completion]:
        async with ModelClient(offline, env={}, mode="replay", cache=False, settings=FAST) as c:
            return [await c.complete("srv/m", USER), await c.complete("srv/m", USER, sample=1)]

    replayed = asyncio.run(go())
    assert [r.text for r in replayed] == [r.text for r in rec]
    assert all(r.cached for r in replayed)
    # record mode answers what is recorded and only fills what is missing
    calls(cfg, {}, {"sample": 2}, mode="record", cache=False)
    assert len(api.requests) == 3


def test_recording_folders_are_safe_paths(api: FakeAPI, tmp_path: Path) -> None:
    from loomgit.providers.replay import store_from_config

    cfg = config(tmp_path, api)
    calls(
        cfg, {"model": "srv/llama3.2:1b"}, {"model": "srv/../../escape"}, mode="record", cache=False
    )
    store = store_from_config(cfg)
    rec = tmp_path / ".loomgit" / "recordings"
    assert store.folder("srv/llama3.2:1b") == rec / "srv" / "llama3.2_1b"
    assert store.has_recordings("srv/llama3.2:1b") and store.has_recordings("srv/../../escape")
    assert not store.has_recordings("srv/other")
    assert all(rec in p.parents for p in tmp_path.rglob("*.json"))  # nothing written outside


def test_replay_missing_recording_names_the_case(tmp_path: Path) -> None:
    [e] = calls(config(tmp_path), {"label": "case 'fire'", "sample": 2}, mode="replay", cache=False)
    assert isinstance(e, RecordingMissing)
    msg = str(e)
    assert msg.startswith(
        "srv/m: no recording for this request (case 'fire', sample 2): expected "
        ".loomgit/recordings/srv/m/"
    )
    assert msg.endswith("run with --record and the provider's API key to record it")


def test_replay_name_prefix(api: FakeAPI, tmp_path: Path) -> None:
    cfg = config(tmp_path, api)
    [live] = calls(cfg, {}, mode="record", cache=False)
    [again] = calls(config(tmp_path), {"model": "replay/srv/m"}, cache=False)
    assert again.text == live.text and again.cached
    [missing] = calls(config(tmp_path), {"model": "replay/srv/m", "sample": 5}, cache=False)
    assert isinstance(missing, RecordingMissing)


def test_replay_dir_from_config(api: FakeAPI, tmp_path: Path) -> None:
    calls(config(tmp_path, api, replay={"dir": "tests/recorded"}), {}, mode="record", cache=False)
    assert len(list((tmp_path / "tests" / "recorded").rglob("*.json"))) == 1


def test_keys_never_reach_cache_or_recordings(api: FakeAPI, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    calls(config(tmp_path, api), {}, {"sample": 1}, mode="record")
    api.default = lambda req: Reply(
        500, {"error": {"message": f"echo {req.headers['authorization']}"}}
    )
    calls(config(tmp_path, api), {"sample": 9}, mode="record")
    assert list(tmp_path.rglob("*.json"))
    assert KEY not in all_text(tmp_path)


def test_injected_mock_transport(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OPENAI_ANSWER)

    async def go() -> Completion:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            async with ModelClient(
                Config(root=tmp_path), http=http, cache=False, env={"OPENAI_API_KEY": KEY}
            ) as c:
                return await c.complete("openai/gpt-4o-mini", USER, {"temperature": 0})

    c = asyncio.run(go())
    assert str(seen[0].url) == "https://api.openai.com/v1/chat/completions"
    assert c.text == "Printer fire, floor 3." and c.cost_usd is not None


def test_client_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match="mode 'replays'"):
        ModelClient(Config(root=tmp_path), mode="replays")


# -- prices ------------------------------------------------------------------------------


def test_builtin_prices_and_dated_names() -> None:
    t = PriceTable()
    assert t.lookup("openai/gpt-4o-mini") == (0.15, 0.60)
    assert t.lookup("openai/gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert t.lookup("anthropic/claude-3-5-haiku-20241022") == (0.80, 4.00)
    assert t.lookup("anthropic/claude-3-7-sonnet-latest") == (3.0, 15.0)
    assert t.lookup("cohere/command-r-plus-08-2024") == (2.50, 10.00)
    assert t.lookup("gemini/gemini-2.0-flash-001") == (0.10, 0.40)
    assert t.lookup("openai/unknown-model") is None
    assert t.lookup("ollama/llama3.2", local=True) == (0.0, 0.0)
    assert cost_usd("openai/gpt-4o", Usage(1_000_000, 1_000_000)) == pytest.approx(12.5)


def test_pricing_from_loomgit_yaml(tmp_path: Path) -> None:
    cfg = parse_config(
        'pricing:\n  "openai/gpt-4o-mini": {input: 1, output: 2}\n'
        '  "local/*": {input: 0.5, output: 0.5}\n',
        tmp_path,
    )
    t = PriceTable(cfg.pricing)
    assert t.lookup("openai/gpt-4o-mini") == (1.0, 2.0)  # overrides the built-in price
    assert t.lookup("local/anything", local=True) == (0.5, 0.5)  # even on localhost
    assert t.cost("local/x", Usage(2_000_000, 0)) == pytest.approx(1.0)


def test_cost_of_a_configured_model(api: FakeAPI, tmp_path: Path) -> None:
    cfg = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": api.base + "/v1"}},
        pricing={"srv/m": {"input": 10.0, "output": 20.0}},
    )
    [c] = calls(cfg, {}, cache=False)
    assert c.cost_usd == pytest.approx((1000 * 10 + 2000 * 20) / 1e6)
    remote = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": "https://llm.example.invalid/v1"}},
    )

    async def go() -> Completion:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, json=OPENAI_ANSWER))
        async with httpx.AsyncClient(transport=transport) as http:
            async with ModelClient(remote, http=http, cache=False, env={}) as c:
                return await c.complete("srv/m", USER)

    unpriced = asyncio.run(go())
    assert unpriced.cost_usd is None  # a remote model with no known price: unknown, not 0


def test_missing_key_is_raised_before_any_request(tmp_path: Path) -> None:
    os.environ.pop("OPENAI_API_KEY", None)
    [e] = calls(Config(root=tmp_path), {"model": "openai/gpt-4o-mini"}, cache=False)
    assert isinstance(e, ProviderConfigError) and "OPENAI_API_KEY" in str(e)
