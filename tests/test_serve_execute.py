"""``POST /v1/executions`` over real HTTP: the completion with its lineage, through the
project's providers (an OpenAI-compatible server on 127.0.0.1 and echo), the response
cache, provider errors as JSON, and ``stream: true`` as Server-Sent Events that arrive
while the model is still writing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import SUMMARIZE, GitRepo, to_production
from provider_server import FakeAPI, Reply, ok
from serve_server import running

from loomgit.app.bundle import clear_cache

KEY = "sk-test-1234567890abcdef"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def _promote(repo: GitRepo, cli, base: str) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "model: openai/gpt-4o-mini", "model: srv/tiny"
            ),
            "loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{base}/v1", '
            "api_key_env: SRV_KEY, retries: 1, backoff_s: 0.01}\n"
            'pricing:\n  "srv/*": {input: 1.0, output: 2.0}\n',
        },
    )
    to_production(cli, repo)


def _answer(text: str) -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5},
    }


RUN = {"prompt": "support/summarize", "variables": {"ticket": "VPN down"}}


def test_an_execution_answers_with_its_lineage(repo: GitRepo, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.queue(Reply(503, {"error": {"message": "busy"}}), ok(_answer("VPN is down.")))
        _promote(repo, cli, api.base)
        with running(repo.path) as (http, lines, _):
            r = http.post("/v1/executions", json=RUN)
            assert r.status_code == 200, r.text
            body = r.json()
            c, lin = body["completion"], body["lineage"]
            assert c["text"] == "VPN is down." and c["finish_reason"] == "stop"
            assert c["tool_calls"] == [] and c["attempts"] == 2  # the 503 was retried
            assert c["usage"] == {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25}
            assert (lin["id"], lin["version"], lin["stage"]) == (
                "support/summarize",
                "1.0.0",
                "production",
            )
            assert lin["model"] == "srv/tiny" and lin["tokens"]["total"] == 25
            assert lin["cost"] == pytest.approx((20 * 1.0 + 5 * 2.0) / 1e6)
            assert lin["content_hash"] and lin["latency_ms"] >= 0
            sent = api.requests[-1].json
            assert (
                sent["model"] == "tiny" and sent["temperature"] == 0.2 and sent["max_tokens"] == 300
            )
            assert sent["messages"][1] == {
                "role": "user",
                "content": "Summarize this ticket: VPN down",
            }
            assert api.requests[-1].headers["authorization"] == f"Bearer {KEY}"

            # the same request again: the response cache answers, the provider is not called
            again = http.post("/v1/executions", json=RUN).json()
            assert again["completion"]["text"] == "VPN is down." and again["lineage"]["cached"]
            assert len(api.requests) == 2
            # model and params of the request go over the prompt's
            api.queue(ok(_answer("other")))
            r = http.post(
                "/v1/executions", json={**RUN, "model": "srv/big", "params": {"temperature": 1}}
            )
            assert r.json()["completion"]["text"] == "other"
            assert (
                api.requests[-1].json["model"] == "big"
                and api.requests[-1].json["temperature"] == 1
            )

            # a provider that refuses: a JSON error, the key never shown
            api.queue(Reply(401, {"error": {"message": f"bad key {KEY}"}}))
            r = http.post("/v1/executions", json={**RUN, "variables": {"ticket": "new"}})
            assert r.status_code == 502 and r.json()["error"]["type"] == "provider_error"
            assert "refused" in r.json()["error"]["message"] and KEY not in r.text

            metrics = http.get("/metrics").text
            labels = 'model="srv/tiny",prompt="support/summarize",version="1.0.0"'
            assert f"loomgit_serve_executions_total{{{labels}}} 2" in metrics
            assert f"loomgit_serve_execution_cache_hits_total{{{labels}}} 1" in metrics
            err = 'model="srv/tiny",prompt="support/summarize",type="ProviderAuthError",version="1.0.0"'
            assert f"loomgit_serve_provider_errors_total{{{err}}} 1" in metrics
            assert KEY not in "\n".join(lines.lines)


def _events(r) -> list[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    out = []
    for block in r.text.split("\n\n"):
        if block.strip():
            head, data = block.split("\n", 1)
            out.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_echo_streams_one_event_a_message(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add", {"prompts/support/summarize.prompt": SUMMARIZE.replace("openai/gpt-4o-mini", "echo")}
    )
    to_production(cli, repo)
    with running(repo.path) as (http, _, _):
        r = http.post("/v1/executions", json={**RUN, "stream": True})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(r)
        assert [e for e, _ in events] == ["delta", "delta", "completion"]
        text = "".join(d["text"] for e, d in events if e == "delta")
        assert text == events[-1][1]["completion"]["text"]
        assert text.endswith("Summarize this ticket: VPN down")
        assert events[-1][1]["lineage"]["version"] == "1.0.0"
        plain = http.post("/v1/executions", json=RUN).json()
        assert plain["completion"]["text"] == text


class Slow:
    """An OpenAI-compatible server that streams one chunk, then waits until the test says
    the chunk reached it through loomgit serve, then sends the rest."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.released_in_time: list[bool] = []
        slow = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(data: Any) -> None:
                    self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()

                def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

                event(chunk({"role": "assistant", "content": "Hel"}))
                slow.released_in_time.append(slow.release.wait(30))
                event(chunk({"content": "lo"}))
                event(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "c1",
                                    "function": {"name": "page", "arguments": '{"who":'},
                                }
                            ]
                        }
                    )
                )
                event(
                    chunk(
                        {"tool_calls": [{"index": 0, "function": {"arguments": ' "oncall"}'}}]},
                        "tool_calls",
                    )
                )
                event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Slow:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def test_an_openai_compatible_answer_streams_while_it_is_written(
    repo: GitRepo, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SRV_KEY", KEY)
    with Slow() as slow:
        _promote(repo, cli, slow.base)
        with running(repo.path) as (http, _, _):
            with http.stream("POST", "/v1/executions", json={**RUN, "stream": True}) as r:
                assert r.status_code == 200
                lines: Iterator[str] = r.iter_lines()
                seen: list[str] = []
                for line in lines:
                    seen.append(line)
                    if line.startswith("data:") and "Hel" in line:
                        slow.release.set()  # the first chunk came through before the rest was sent
                        break
                seen += list(lines)
    assert slow.released_in_time == [True]
    r_text = "\n".join(seen) + "\n"

    class R:
        text = r_text

    events = _events(R)
    assert [e for e, _ in events] == ["delta", "delta", "completion"]
    assert [d["text"] for e, d in events if e == "delta"] == ["Hel", "lo"]
    done = events[-1][1]
    assert (
        done["completion"]["text"] == "Hello"
        and done["completion"]["finish_reason"] == "tool_calls"
    )
    assert done["completion"]["tool_calls"] == [
        {"id": "c1", "name": "page", "arguments": {"who": "oncall"}}
    ]
    assert done["lineage"]["tokens"] == {"input": 7, "output": 3, "total": 10}


def test_a_stream_that_fails_before_or_after_it_starts(repo: GitRepo, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.queue(Reply(400, {"error": {"message": "bad request"}}))
        _promote(repo, cli, api.base)
        with running(repo.path) as (http, _, _):
            r = http.post("/v1/executions", json={**RUN, "stream": True})
            assert r.status_code == 502 and r.json()["error"]["type"] == "provider_error"
            assert "HTTP 400: bad request" in r.json()["error"]["message"]
            # broken part way: the text so far, then an error event (nothing is retried)
            first = {"choices": [{"index": 0, "delta": {"content": "Hal"}}]}
            body = f"data: {json.dumps(first)}\n\n".encode()
            api.queue(
                Reply(
                    200, body=body, action="truncate", headers={"Content-Type": "text/event-stream"}
                )
            )
            r = http.post(
                "/v1/executions", json={**RUN, "stream": True, "variables": {"ticket": "b"}}
            )
            assert r.status_code == 200
            events = _events(r)
            assert events[0] == ("delta", {"text": "Hal"})
            assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "provider_error"
            assert len(api.requests) == 2


def test_a_provider_without_streaming_sends_one_delta_and_the_cache_answers_streams(
    repo: GitRepo, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SRV_KEY", KEY)
    with FakeAPI() as api:
        api.queue(
            ok(
                {
                    "content": [{"type": "text", "text": "Whole answer."}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 9, "output_tokens": 2},
                }
            )
        )
        repo.commit(
            "add",
            {
                "prompts/support/summarize.prompt": SUMMARIZE.replace(
                    "model: openai/gpt-4o-mini", "model: claude/haiku"
                ),
                "loomgit.yaml": f'providers:\n  claude: {{type: anthropic, base_url: "{api.base}", '
                "api_key_env: SRV_KEY}\n",
            },
        )
        to_production(cli, repo)
        with running(repo.path) as (http, _, _):
            for cached in (False, True):
                events = _events(http.post("/v1/executions", json={**RUN, "stream": True}))
                assert [e for e, _ in events] == ["delta", "completion"]
                assert events[0][1] == {"text": "Whole answer."}
                assert events[1][1]["lineage"]["cached"] is cached
                assert events[1][1]["lineage"]["tokens"]["total"] == 11
            assert len(api.requests) == 1
            assert api.requests[0].path.endswith("/messages")
