"""OpenTelemetry spans, recorded by the SDK's in-memory exporter: ``loomgit.load().render()``,
a provider request to a real server on 127.0.0.1, ``POST /v1/executions`` on a real
``loomgit serve``, and ``loomgit run``; and, with ``opentelemetry`` not importable, the same
calls working with no span and no error."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SUMMARIZE, GitRepo, to_production
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from provider_server import FakeAPI, Reply, ok

import loomgit
from loomgit import tracing
from loomgit.app.bundle import clear_cache
from loomgit.config import Config
from loomgit.providers import ModelClient
from loomgit.providers.resilience import ResilienceSettings

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-trace-SECRET-1234567890"
FAST = ResilienceSettings(
    timeout_s=2, total_timeout_s=4, retries=0, backoff_s=0.01, breaker_failures=100
)
ANSWER = {
    "id": "chatcmpl-1",
    "model": "tiny-2026-01-01",
    "choices": [
        {"message": {"role": "assistant", "content": "VPN is down."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5},
}
LINEAGE = ("loomgit.prompt.id", "loomgit.prompt.version", "loomgit.prompt.content_hash")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)
        provider.shutdown()


def named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


def no_secrets(exporter: InMemorySpanExporter, *texts: str) -> None:
    dumped = json.dumps([dict(s.attributes or {}) for s in exporter.get_finished_spans()])
    for t in (KEY, *texts):
        assert t not in dumped


def _promote(repo: GitRepo, cli: Any, base: str) -> None:
    repo.commit(
        "add",
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "model: openai/gpt-4o-mini", "model: srv/tiny"
            ),
            "loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{base}/v1", '
            "api_key_env: SRV_KEY, retries: 0, backoff_s: 0.01}\n",
            "data/tickets.jsonl": '{"ticket": "VPN down"}\n{"ticket": "disk full"}\n',
        },
    )
    to_production(cli, repo)


def test_render_is_an_internal_span_with_the_prompt_lineage(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter
) -> None:
    _promote(repo, cli, "http://127.0.0.1:9")
    p = loomgit.load("support/summarize", stage="production", repo=repo.path)
    p.render(ticket="Printer SECRETIVE on fire")
    (s,) = named(spans, "loomgit.render")
    assert s.name == "loomgit.render support/summarize" and s.kind == SpanKind.INTERNAL
    a = dict(s.attributes or {})
    assert (a["loomgit.prompt.id"], a["loomgit.prompt.version"], a["loomgit.prompt.stage"]) == (
        "support/summarize",
        "1.0.0",
        "production",
    )
    assert a["loomgit.prompt.content_hash"] == p.content_hash
    no_secrets(spans, "SECRETIVE", "Summarize this ticket")


def _call(base: str, tmp_path: Path, lineage: Any = None) -> Any:
    cfg = Config(
        root=tmp_path,
        providers={"srv": {"type": "openai", "base_url": base + "/v1", "api_key_env": "SRV_KEY"}},
    )

    async def go() -> Any:
        async with ModelClient(cfg, env={"SRV_KEY": KEY}, cache=False, settings=FAST) as c:
            msgs = [{"role": "user", "content": "Summarize: printer HIDDEN"}]
            if lineage is None:
                return await c.complete("srv/tiny", msgs)
            with tracing.prompt_context(lineage):
                return await c.complete("srv/tiny", msgs)

    return asyncio.run(go())


def test_a_provider_request_is_a_genai_client_span(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    who = {"id": "support/summarize", "version": "1.2.0", "content_hash": "abc123"}
    with FakeAPI() as api:
        api.queue(ok(ANSWER), Reply(401, {"error": {"message": "bad key"}}))
        assert _call(api.base, tmp_path, who).text == "VPN is down."
        with pytest.raises(Exception, match="key was refused"):
            _call(api.base, tmp_path)
    good, bad = named(spans, "chat ")
    assert good.name == "chat tiny" and good.kind == SpanKind.CLIENT
    a = dict(good.attributes or {})
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "tiny" and a["gen_ai.response.model"] == "tiny-2026-01-01"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (20, 5)
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert (a["loomgit.prompt.id"], a["loomgit.prompt.version"]) == ("support/summarize", "1.2.0")
    assert "error.type" not in a and good.status.status_code != StatusCode.ERROR
    b = dict(bad.attributes or {})
    assert b["error.type"] == "ProviderAuthError" and bad.status.status_code == StatusCode.ERROR
    assert "loomgit.prompt.id" not in b  # no prompt around that call
    no_secrets(spans, "HIDDEN", "bad key", "VPN is down")


def test_serve_execute_spans_nest_render_and_the_provider_call(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter, monkeypatch: Any
) -> None:
    from serve_server import running

    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.queue(ok(ANSWER))
        _promote(repo, cli, api.base)
        with running(repo.path) as (http, _, _):
            body = {"prompt": "support/summarize", "variables": {"ticket": "VPN CONFIDENTIAL"}}
            r = http.post("/v1/executions", json=body)
            assert r.status_code == 200, r.text
    (ex,) = named(spans, "loomgit.execute")
    (call,) = named(spans, "chat tiny")
    (render,) = named(spans, "loomgit.render")
    assert ex.name == "loomgit.execute support/summarize" and ex.kind == SpanKind.INTERNAL
    assert call.parent is not None and call.parent.span_id == ex.context.span_id
    e, c = dict(ex.attributes or {}), dict(call.attributes or {})
    assert e["loomgit.prompt.stage"] == "production" and e["gen_ai.request.model"] == "srv/tiny"
    assert (e["gen_ai.usage.input_tokens"], e["gen_ai.usage.output_tokens"]) == (20, 5)
    for key in LINEAGE:
        assert c[key] == e[key] == dict(render.attributes or {})[key]
    no_secrets(spans, "CONFIDENTIAL", "VPN is down")


def test_a_batch_run_has_a_span_per_record_around_its_request(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.default = lambda req: ok(ANSWER)
        _promote(repo, cli, api.base)
        r = cli(
            ["run", "support/summarize", "--input", "data/tickets.jsonl", "--output", "out.jsonl"],
            cwd=repo.path,
        )
        assert r.exit_code == 0, r.out + r.err
    runs = named(spans, "loomgit.run")
    calls = named(spans, "chat tiny")
    assert len(runs) == len(calls) == 2
    assert sorted(dict(s.attributes or {})["loomgit.record.index"] for s in runs) == [1, 2]
    by_id = {s.context.span_id: s for s in runs}
    for c in calls:
        assert c.parent is not None and c.parent.span_id in by_id
        run = dict(by_id[c.parent.span_id].attributes or {})
        assert run["loomgit.prompt.id"] == "support/summarize"
        assert run["loomgit.record.outcome"] == "ok"
        for key in LINEAGE:
            assert dict(c.attributes or {})[key] == run[key]
    no_secrets(spans, "VPN down", "disk full")


HIDE = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError("hidden: " + name)
sys.meta_path.insert(0, Hide())
"""


def test_without_opentelemetry_render_and_provider_calls_still_work(
    repo: GitRepo, cli: Any
) -> None:
    with FakeAPI() as api:
        api.default = lambda req: ok(ANSWER)
        _promote(repo, cli, api.base)
        script = HIDE + textwrap.dedent(
            f"""
            import asyncio, loomgit
            from loomgit import tracing
            from loomgit.config import Config
            from loomgit.providers import ModelClient
            p = loomgit.load("support/summarize", repo={str(repo.path)!r})
            print(p.render(ticket="x")[1]["content"])
            cfg = Config(root=p and __import__("pathlib").Path("."), providers={{"srv": {{
                "type": "openai", "base_url": {api.base + "/v1"!r}}}}})
            async def go():
                async with ModelClient(cfg, env={{}}, cache=False) as c:
                    with tracing.prompt_context(p):
                        return await c.complete("srv/tiny", [{{"role": "user", "content": "x"}}])
            print(asyncio.run(go()).text)
            print(tracing.enabled(), any(m.startswith("opentelemetry") for m in sys.modules))
            """
        )
        r = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=repo.path
        )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Summarize this ticket: x", "VPN is down.", "False False"]
    assert r.stderr == ""


def test_version_and_the_commit_hook_do_not_import_opentelemetry(repo: GitRepo) -> None:
    repo.commit("add", {"prompts/support/summarize.prompt": SUMMARIZE})
    probe = textwrap.dedent(
        """
        import atexit, sys
        from loomgit.entry import run as main
        def seen():
            print("OTEL" if any(m.startswith("opentelemetry") for m in sys.modules) else "none",
                  file=sys.stderr)
        atexit.register(seen)
        sys.argv = ["loomgit", *sys.argv[1:]]
        main()
        """
    )
    for args in (["--version"], ["hook", "check", "prompts/support/summarize.prompt"]):
        r = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=repo.path
        )
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert r.stderr.strip().splitlines()[-1] == "none", (args, r.stdout, r.stderr)


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + (
        b"data: [DONE]\n\n"
    )


def test_a_streamed_execution_ends_its_spans_with_the_last_event(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter, monkeypatch: Any
) -> None:
    from serve_server import running

    monkeypatch.setenv("SRV_KEY", KEY)
    chunk = {"id": "chatcmpl-2", "model": "tiny-2026-01-01"}
    body = _sse(
        {**chunk, "choices": [{"index": 0, "delta": {"content": "VPN is "}}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "down."}}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
    )
    with FakeAPI() as api:
        api.queue(Reply(200, body=body), Reply(500, {"error": {"message": "down"}}))
        _promote(repo, cli, api.base)
        with running(repo.path) as (http, _, _):
            run = {"prompt": "support/summarize", "variables": {"ticket": "x"}, "stream": True}
            r = http.post("/v1/executions", json=run)
            assert r.status_code == 200 and "VPN is " in r.text
            again = {**run, "variables": {"ticket": "y"}}  # not the cached answer
            assert http.post("/v1/executions", json=again).status_code >= 500
    ok_ex, bad_ex = sorted(named(spans, "loomgit.execute"), key=lambda s: s.start_time or 0)
    ok_call, bad_call = sorted(named(spans, "chat tiny"), key=lambda s: s.start_time or 0)
    assert ok_call.parent is not None and ok_call.parent.span_id == ok_ex.context.span_id
    c = dict(ok_call.attributes or {})
    assert (c["gen_ai.usage.input_tokens"], c["gen_ai.usage.output_tokens"]) == (7, 3)
    assert c["gen_ai.response.finish_reasons"] == ("stop",)
    assert c["gen_ai.response.model"] == "tiny-2026-01-01"
    assert c["loomgit.prompt.id"] == "support/summarize"
    e = dict(ok_ex.attributes or {})
    assert (e["gen_ai.usage.input_tokens"], e["gen_ai.usage.output_tokens"]) == (7, 3)
    assert ok_ex.status.status_code != StatusCode.ERROR
    for s in (bad_ex, bad_call):
        assert s.status.status_code == StatusCode.ERROR
        assert dict(s.attributes or {})["error.type"] == "ProviderHTTPError"


def test_spans_go_to_the_global_tracer_provider(repo: GitRepo, cli: Any) -> None:
    _promote(repo, cli, "http://127.0.0.1:9")
    script = textwrap.dedent(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import loomgit
        p = loomgit.load("support/summarize", repo={str(repo.path)!r})
        p.render(ticket="x")  # before a provider is set: dropped
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        p.render(ticket="x")
        for s in exporter.get_finished_spans():
            print(s.name, s.attributes["loomgit.prompt.version"])
        """
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["loomgit.render support/summarize 1.0.0"]


def test_an_eval_request_carries_the_prompt_it_evaluates(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.default = lambda req: ok(ANSWER)
        _promote(repo, cli, api.base)
        suite = {
            "cases": [{"name": "vpn", "vars": {"ticket": "VPN"}, "assert": [{"contains": "VPN"}]}]
        }
        repo.commit("suite", {"prompts/support/summarize.tests.yaml": json.dumps(suite)})
        r = cli(["eval"], cwd=repo.path)
        assert r.exit_code == 0, r.out + r.err
    (call,) = named(spans, "chat tiny")
    a = dict(call.attributes or {})
    assert (a["loomgit.prompt.id"], a["loomgit.prompt.version"]) == ("support/summarize", "1.0.0")


def test_an_execution_that_fails_unexpectedly_still_ends_its_span(
    repo: GitRepo, cli: Any, spans: InMemorySpanExporter, monkeypatch: Any
) -> None:
    from serve_server import running

    from loomgit.serve.execute import Executions

    class Broken:
        async def complete(self, *args: Any) -> Any:
            raise RuntimeError("a bug, not a provider failure")

    monkeypatch.setenv("SRV_KEY", KEY)
    monkeypatch.setattr(Executions, "model_client", lambda self: Broken())
    with FakeAPI() as api:
        _promote(repo, cli, api.base)
        with running(repo.path) as (http, _, _):
            body = {"prompt": "support/summarize", "variables": {"ticket": "x"}}
            r = http.post("/v1/executions", json=body)
            assert r.status_code == 500
    (ex,) = named(spans, "loomgit.execute")
    assert ex.end_time is not None and ex.status.status_code.name == "ERROR"
    assert dict(ex.attributes or {})["error.type"] == "RuntimeError"
