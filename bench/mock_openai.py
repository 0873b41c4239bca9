#!/usr/bin/env python3
"""A tiny OpenAI-compatible server on 127.0.0.1 for demos and benchmarks (stdlib only).

    python bench/mock_openai.py --port 0 --latency-ms 50 --fail-rate 0.1
    # prints: mock OpenAI server on http://127.0.0.1:PORT/v1

Endpoints: ``POST /v1/chat/completions`` (answers ``Mock answer: <last user message>``
with token counts), ``POST /v1/embeddings`` (hashed bag-of-words vectors), ``GET
/v1/models``, and the same answers in Ollama's own shape at ``POST /api/chat`` and ``POST
/api/embed``. ``--fail-rate`` answers that share of requests with ``--fail-status``
(500 by default; 429 comes with ``Retry-After: 0``). Stops on SIGTERM or Ctrl-C.

Importable: ``with MockOpenAI(latency_ms=20) as srv: srv.url``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_WORD = re.compile(r"\w+")


def _tokens(text: str) -> int:
    return max(1, len(_WORD.findall(text)))


def _vector(text: str, dims: int = 64) -> list[float]:
    v = [0.0] * dims
    for w in _WORD.findall(text.lower()):
        v[int(hashlib.md5(w.encode()).hexdigest(), 16) % dims] += 1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default (5) resets connections under concurrent load
    daemon_threads = True


class MockOpenAI:
    def __init__(
        self,
        port: int = 0,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        fail_rate: float = 0.0,
        fail_status: int = 500,
        seed: int | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = 0
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def parse_request(self) -> bool:
                self.arrived = time.monotonic()  # the request line is in: headers come next
                return super().parse_request()

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                self._send_bytes(status, json.dumps(body).encode(), headers)

            def _send_bytes(
                self, status: int, data: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": "mock", "object": "model", "owned_by": "loomgit"}],
                        },
                    )
                else:
                    self._send(
                        404,
                        {
                            "error": {
                                "message": f"no route {self.path}",
                                "type": "invalid_request_error",
                            }
                        },
                    )

            def do_POST(self) -> None:
                # the latency runs from the request's arrival to the answer, which is
                # built first: a 50 ms server answers in 50 ms, not in 50 ms plus its own
                # parsing and encoding (under 32 requests at once those added ~3 ms a
                # round trip, more than the clients' own overhead being measured)
                arrived = self.arrived
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with mock.lock:
                    mock.requests += 1
                    fail = mock.rng.random() < mock.fail_rate
                    delay = max(0.0, mock.latency_ms + mock.rng.uniform(-1, 1) * mock.jitter_ms)
                    if fail:
                        mock.failures += 1
                status, body, headers = self._answer(raw, fail)
                data = json.dumps(body).encode()
                wait = arrived + delay / 1000 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._send_bytes(status, data, headers)

            def _answer(self, raw: bytes, fail: bool) -> tuple[int, Any, dict[str, str]]:
                if fail:
                    headers = {"Retry-After": "0"} if mock.fail_status == 429 else {}
                    return (
                        mock.fail_status,
                        {"error": {"message": "injected failure", "type": "server_error"}},
                        headers,
                    )
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return (
                        400,
                        {"error": {"message": "body is not JSON", "type": "invalid_request_error"}},
                        {},
                    )
                path = self.path.rstrip("/")
                if path == "/v1/chat/completions":
                    return 200, mock.chat(body), {}
                if path == "/v1/embeddings":
                    return 200, mock.embeddings(body), {}
                if path == "/api/chat":  # Ollama's own chat API
                    return 200, mock.ollama_chat(body), {}
                if path == "/api/embed":
                    return 200, mock.ollama_embed(body), {}
                return (
                    404,
                    {
                        "error": {
                            "message": f"no route {self.path}",
                            "type": "invalid_request_error",
                        }
                    },
                    {},
                )

        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        answer = "Mock answer: " + (users[-1] if users else "")
        prompt = sum(_tokens(str(m.get("content", ""))) for m in messages)
        out = _tokens(answer)
        return {
            "id": f"chatcmpl-mock{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "mock"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer},
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": out,
                "total_tokens": prompt + out,
            },
        }

    def ollama_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """The same answer in Ollama's ``/api/chat`` shape."""
        c = self.chat(body)
        return {
            "model": c["model"],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": c["choices"][0]["message"],
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": c["usage"]["prompt_tokens"],
            "eval_count": c["usage"]["completion_tokens"],
        }

    def ollama_embed(self, body: dict[str, Any]) -> dict[str, Any]:
        e = self.embeddings(body)
        return {"model": e["model"], "embeddings": [d["embedding"] for d in e["data"]]}

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        return {
            "object": "list",
            "model": body.get("model", "mock"),
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(str(t))}
                for i, t in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": sum(_tokens(str(t)) for t in texts),
                "total_tokens": sum(_tokens(str(t)) for t in texts),
            },
        }

    def start(self) -> MockOpenAI:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join()

    def __enter__(self) -> MockOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of requests that fail, 0..1"
    )
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    mock = MockOpenAI(a.port, a.latency_ms, a.jitter_ms, a.fail_rate, a.fail_status, a.seed)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=mock.server.shutdown).start())
    print(f"mock OpenAI server on {mock.url}", flush=True)
    try:
        mock.server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        mock.server.server_close()
    print(
        f"mock OpenAI server stopped after {mock.requests} requests "
        f"({mock.failures} failed on purpose)",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
