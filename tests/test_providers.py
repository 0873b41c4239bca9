"""Each provider against a real HTTP server on 127.0.0.1: the request it sends (URL, headers,
body) and how it reads real-shaped answers and error bodies, as each API documents them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from provider_server import FakeAPI, Reply, ok

from loomgit.config import Config
from loomgit.errors import EXIT_INFRA, EXIT_USAGE
from loomgit.providers import get_provider
from loomgit.providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderRejected,
    ProviderResponseError,
)
from loomgit.providers.resilience import ResilienceSettings

KEY = "sk-test-SECRET-0123456789abcdef"
FAST = ResilienceSettings(
    timeout_s=2.0,
    total_timeout_s=5.0,
    retries=2,
    backoff_s=0.01,
    backoff_max_s=0.02,
    breaker_failures=100,
)
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Summarize: printer on fire"},
    {"role": "assistant", "content": "Fire."},
    {"role": "user", "content": "Where?"},
    {"role": "user", "content": "Floor 3."},
]

OPENAI_ANSWER = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Printer fire, floor 3.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1000,
        "completion_tokens": 2000,
        "total_tokens": 3000,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_06737a9306",
}
ANTHROPIC_ANSWER = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Printer fire"}, {"type": "text", "text": " on floor 3."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "output_tokens": 6,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}
GEMINI_ANSWER = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "thinking...", "thought": True},
                    {"text": "Printer fire on floor 3."},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 8,
        "candidatesTokenCount": 12,
        "thoughtsTokenCount": 20,
        "totalTokenCount": 40,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mD9LaKmWBrqTgLUPn9ePoQ0",
}
COHERE_ANSWER = {
    "id": "5a50480a-cf52-46f0-af01-53d18539bd31",
    "message": {
        "role": "assistant",
        "content": [{"type": "text", "text": "Printer fire, floor 3."}],
    },
    "finish_reason": "COMPLETE",
    "usage": {
        "billed_units": {"input_tokens": 17, "output_tokens": 12},
        "tokens": {"input_tokens": 215, "output_tokens": 12},
    },
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def complete(
    name: str,
    config: Config,
    messages: list[dict[str, str]] = MESSAGES,
    params: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    async def go() -> Any:
        async with get_provider(name, config, env=env or {}, settings=FAST) as p:
            return await p.complete(messages, params or {})

    return run(go())


def embed(name: str, config: Config, texts: list[str], env: dict[str, str] | None = None) -> Any:
    async def go() -> Any:
        async with get_provider(name, config, env=env or {}, settings=FAST) as p:
            return await p.embed(texts)

    return run(go())


def cfg(tmp_path: Path, **providers: dict[str, Any]) -> Config:
    return Config(root=tmp_path, providers=providers)


@pytest.fixture
def api() -> Any:
    with FakeAPI() as server:
        yield server


# -- OpenAI and compatible servers -------------------------------------------------------


def test_openai_sends_documented_request_and_reads_answer(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(OPENAI_ANSWER))
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base + "/v1"}
    c = complete(
        "openai/gpt-4o-mini",
        cfg(tmp_path),
        params={"temperature": 0.2, "max_tokens": 50, "stream": True},
        env=env,
    )
    req = api.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.2,
        "max_tokens": 50,
    }  # stream is never asked for: answers are read whole
    assert c.text == "Printer fire, floor 3."
    assert (c.usage.input_tokens, c.usage.output_tokens) == (1000, 2000)
    assert c.finish_reason == "stop" and c.model == "openai/gpt-4o-mini"
    assert c.cost_usd == pytest.approx(0.15 * 1000 / 1e6 + 0.60 * 2000 / 1e6)
    assert c.raw["id"] == OPENAI_ANSWER["id"] and c.latency_ms > 0 and c.attempts == 1


def test_openai_entry_params_sit_under_call_params(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(OPENAI_ANSWER))
    config = cfg(
        tmp_path,
        local={
            "type": "openai",
            "base_url": api.base + "/v1",
            "params": {"temperature": 0, "seed": 7},
        },
    )
    complete("local/llama3", config, params={"temperature": 0.9})
    assert api.requests[0].json["temperature"] == 0.9 and api.requests[0].json["seed"] == 7


OLLAMA_ANSWER = {
    "model": "llama3.2",
    "created_at": "2025-04-11T18:18:52.293545Z",
    "message": {"role": "assistant", "content": "Printer fire, floor 3."},
    "done_reason": "stop",
    "done": True,
    "total_duration": 2347998750,
    "load_duration": 19605625,
    "prompt_eval_count": 155,
    "prompt_eval_duration": 321024542,
    "eval_count": 81,
    "eval_duration": 2005950875,
}


def test_ollama_preset_uses_ollama_host_and_sends_no_key(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(OLLAMA_ANSWER))
    host = api.base.removeprefix("http://")
    c = complete(
        "ollama/llama3.2",
        cfg(tmp_path),
        params={"temperature": 0.2, "max_tokens": 50, "stop": "END", "num_ctx": 8192},
        env={"OLLAMA_HOST": host, "OPENAI_API_KEY": KEY},
    )
    req = api.requests[0]
    assert req.path == "/api/chat"
    assert req.json == {
        "model": "llama3.2",
        "messages": MESSAGES,
        "stream": False,
        "options": {"temperature": 0.2, "num_predict": 50, "stop": ["END"], "num_ctx": 8192},
    }
    assert "authorization" not in req.headers
    assert c.text == "Printer fire, floor 3." and c.finish_reason == "stop"
    assert (c.usage.input_tokens, c.usage.output_tokens) == (155, 81)
    assert c.cost_usd == 0.0  # a model on this machine costs nothing


def test_ollama_embeddings(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok({"model": "all-minilm", "embeddings": [[0.1, 0.2], [0.3, 0.4]]}))
    config = cfg(tmp_path, local={"type": "ollama", "base_url": api.base})
    assert embed("local/all-minilm", config, ["a", "b"]) == [[0.1, 0.2], [0.3, 0.4]]
    assert api.requests[0].path == "/api/embed"
    assert api.requests[0].json == {"model": "all-minilm", "input": ["a", "b"]}


def test_default_key_is_never_sent_to_another_host(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(OPENAI_ANSWER), ok(OPENAI_ANSWER))
    env = {"OPENAI_API_KEY": KEY, "MY_GATEWAY_KEY": "gw-key-123456"}
    complete("gw/m", cfg(tmp_path, gw={"type": "openai", "base_url": api.base + "/v1"}), env=env)
    assert "authorization" not in api.requests[0].headers
    complete(
        "gw/m",
        cfg(
            tmp_path,
            gw={"type": "openai", "base_url": api.base + "/v1", "api_key_env": "MY_GATEWAY_KEY"},
        ),
        env=env,
    )
    assert api.requests[1].headers["authorization"] == "Bearer gw-key-123456"


def test_openai_content_parts_and_refusal(api: FakeAPI, tmp_path: Path) -> None:
    parts = {
        **OPENAI_ANSWER,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            }
        ],
    }
    refusal = {
        **OPENAI_ANSWER,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": "I can't help with that.",
                },
            }
        ],
    }
    api.queue(ok(parts), ok(refusal))
    config = cfg(tmp_path, local={"type": "openai", "base_url": api.base + "/v1"})
    assert complete("local/m", config).text == "ab"
    declined = complete("local/m", config)
    assert (declined.text, declined.refusal) == ("", "I can't help with that.")


def test_openai_embeddings(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            {
                "object": "list",
                "model": "text-embedding-3-small",
                "data": [
                    {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                    {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
                ],
                "usage": {"prompt_tokens": 4, "total_tokens": 4},
            }
        )
    )
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base + "/v1"}
    vectors = embed("openai/text-embedding-3-small", cfg(tmp_path), ["first", "second"], env)
    assert vectors == [[1.0, 0.0], [0.0, 1.0]]  # put back in input order
    req = api.requests[0]
    assert req.path == "/v1/embeddings"
    assert req.json == {"model": "text-embedding-3-small", "input": ["first", "second"]}


def test_openai_error_bodies(api: FakeAPI, tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base + "/v1"}
    api.queue(
        Reply(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided: sk-test-***cdef.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
    )
    with pytest.raises(ProviderAuthError) as e:
        complete("openai/gpt-4o-mini", cfg(tmp_path), env=env)
    msg = str(e.value)
    assert "OPENAI_API_KEY" in msg and "Incorrect API key provided" in msg and "HTTP 401" in msg
    assert KEY not in msg and e.value.exit_code == EXIT_INFRA
    api.queue(
        Reply(
            404,
            {
                "error": {
                    "message": "The model `gpt-9` does not exist",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            },
        )
    )
    with pytest.raises(ProviderRejected, match=r"does not exist.*check the model name 'gpt-9'"):
        complete("openai/gpt-9", cfg(tmp_path), env=env)
    api.queue(
        Reply(
            429,
            {
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        )
    )
    with pytest.raises(ProviderRejected, match="quota or spend limit reached"):
        complete("openai/gpt-4o-mini", cfg(tmp_path), env=env)
    assert len(api.requests) == 3  # none of these was retried


def test_ollama_plain_string_error(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(Reply(404, {"error": 'model "llama9" not found, try pulling it first'}))
    config = cfg(tmp_path, local={"type": "ollama", "base_url": api.base + "/v1"})
    with pytest.raises(ProviderRejected, match='model "llama9" not found, try pulling it first'):
        complete("local/llama9", config)
    assert api.requests[0].path == "/api/chat"  # a /v1 base_url is the server's root


def test_answer_without_choices_is_a_clear_error(api: FakeAPI, tmp_path: Path) -> None:
    api.default = lambda req: ok({"object": "chat.completion", "choices": []})
    config = cfg(tmp_path, local={"type": "openai", "base_url": api.base + "/v1"})
    with pytest.raises(ProviderResponseError, match=r"unexpected answer \(no choices"):
        complete("local/m", config)
    assert len(api.requests) == 3  # a garbled answer may be a passing fault: retried


# -- Anthropic ---------------------------------------------------------------------------


def test_anthropic_messages_request_and_answer(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(ANTHROPIC_ANSWER))
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.base + "/v1"}
    c = complete(
        "anthropic/claude-sonnet-4-5",
        cfg(tmp_path),
        params={"temperature": 0.1, "stop": "END", "seed": 3, "top_p": 0.9},
        env=env,
    )
    req = api.requests[0]
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == KEY and req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    assert req.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "Summarize: printer on fire"},
            {"role": "assistant", "content": "Fire."},
            {"role": "user", "content": "Where?\n\nFloor 3."},
        ],
        "temperature": 0.1,
        "top_p": 0.9,
        "stop_sequences": ["END"],
    }  # seed: no such param
    assert c.text == "Printer fire on floor 3." and c.finish_reason == "end_turn"
    assert (c.usage.input_tokens, c.usage.output_tokens) == (12, 6)
    assert c.cost_usd == pytest.approx((12 * 3.0 + 6 * 15.0) / 1e6)


def test_anthropic_error_body_and_max_tokens(api: FakeAPI, tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.base + "/v1"}
    api.queue(
        Reply(
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "temperature: range: 0..1"},
                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
            },
        )
    )
    with pytest.raises(
        ProviderRejected, match=r"HTTP 400: temperature: range: 0\.\.1\); check the prompt's params"
    ):
        complete(
            "anthropic/claude-sonnet-4-5",
            cfg(tmp_path),
            params={"temperature": 3, "max_tokens": 77},
            env=env,
        )
    assert api.requests[0].json["max_tokens"] == 77
    api.queue(
        Reply(
            529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        ),
        ok(ANTHROPIC_ANSWER),
    )
    c = complete("anthropic/claude-sonnet-4-5", cfg(tmp_path), env=env)
    assert c.attempts == 2


def test_anthropic_needs_a_turn(tmp_path: Path) -> None:
    with pytest.raises(ProviderRejected, match="at least one user"):
        complete(
            "anthropic/claude-sonnet-4-5",
            cfg(tmp_path),
            messages=[{"role": "system", "content": "alone"}],
            env={"ANTHROPIC_API_KEY": KEY},
        )


# -- Gemini ------------------------------------------------------------------------------


def gemini_cfg(api: FakeAPI, tmp_path: Path) -> Config:
    return cfg(
        tmp_path,
        google={
            "type": "gemini",
            "base_url": api.base + "/v1beta",
            "api_key_env": "GEMINI_API_KEY",
        },
    )


def test_gemini_generate_content_request_and_answer(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(GEMINI_ANSWER))
    c = complete(
        "google/gemini-2.5-flash",
        gemini_cfg(api, tmp_path),
        params={
            "temperature": 0.3,
            "max_tokens": 200,
            "top_p": 0.8,
            "stop": ["END"],
            "response_format": {"type": "json_object"},
            "user": "dropped",
        },
        env={"GEMINI_API_KEY": KEY},
    )
    req = api.requests[0]
    assert req.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert KEY not in req.path and req.headers["x-goog-api-key"] == KEY
    assert req.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "Summarize: printer on fire"}]},
            {"role": "model", "parts": [{"text": "Fire."}]},
            {"role": "user", "parts": [{"text": "Where?\n\nFloor 3."}]},
        ],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "generationConfig": {
            "temperature": 0.3,
            "maxOutputTokens": 200,
            "topP": 0.8,
            "stopSequences": ["END"],
            "responseMimeType": "application/json",
        },
    }
    assert c.text == "Printer fire on floor 3." and c.finish_reason == "STOP"
    assert (c.usage.input_tokens, c.usage.output_tokens) == (8, 32)  # thinking is billed as output


def test_gemini_errors(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        Reply(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                }
            },
        )
    )
    with pytest.raises(ProviderAuthError, match=r"API key not valid.*\$GEMINI_API_KEY"):
        complete("google/gemini-2.5-flash", gemini_cfg(api, tmp_path), env={"GEMINI_API_KEY": KEY})
    api.queue(
        ok({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}})
    )
    with pytest.raises(ProviderRejected, match="blocked the prompt"):
        complete("google/gemini-2.5-flash", gemini_cfg(api, tmp_path), env={"GEMINI_API_KEY": KEY})


def test_gemini_embeddings(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}))
    v = embed(
        "google/gemini-embedding-001",
        gemini_cfg(api, tmp_path),
        ["a", "b"],
        {"GEMINI_API_KEY": KEY},
    )
    assert v == [[0.1, 0.2], [0.3, 0.4]]
    req = api.requests[0]
    assert req.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert req.json["requests"][1] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "b"}]},
    }


# -- Cohere ------------------------------------------------------------------------------


def cohere_cfg(api: FakeAPI, tmp_path: Path) -> Config:
    return cfg(tmp_path, cohere={"base_url": api.base + "/v2", "api_key_env": "COHERE_API_KEY"})


def test_cohere_chat_v2_request_and_answer(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(COHERE_ANSWER))
    c = complete(
        "cohere/command-r",
        cohere_cfg(api, tmp_path),
        params={"temperature": 0.2, "top_p": 0.5, "top_k": 10, "stop": "END", "n": 2},
        env={"COHERE_API_KEY": KEY},
    )
    req = api.requests[0]
    assert req.path == "/v2/chat" and req.headers["authorization"] == f"Bearer {KEY}"
    assert req.json == {
        "model": "command-r",
        "stream": False,
        "messages": MESSAGES,
        "temperature": 0.2,
        "p": 0.5,
        "k": 10,
        "stop_sequences": ["END"],
    }
    assert c.text == "Printer fire, floor 3." and c.finish_reason == "COMPLETE"
    assert (c.usage.input_tokens, c.usage.output_tokens) == (17, 12)  # billed units
    assert c.cost_usd == pytest.approx((17 * 0.15 + 12 * 0.60) / 1e6)


def test_cohere_error_and_embed(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(Reply(401, {"id": "c7e3b6d3", "message": "invalid api token"}))
    with pytest.raises(ProviderAuthError, match=r"invalid api token.*\$COHERE_API_KEY"):
        complete("cohere/command-r", cohere_cfg(api, tmp_path), env={"COHERE_API_KEY": KEY})
    api.queue(
        ok(
            {
                "id": "x",
                "embeddings": {"float": [[0.5, 0.5]]},
                "texts": ["a"],
                "response_type": "embeddings_by_type",
                "meta": {"api_version": {"version": "2"}},
            }
        )
    )
    assert embed(
        "cohere/embed-v4.0", cohere_cfg(api, tmp_path), ["a"], {"COHERE_API_KEY": KEY}
    ) == [[0.5, 0.5]]
    assert api.requests[1].path == "/v2/embed"
    assert api.requests[1].json == {
        "model": "embed-v4.0",
        "texts": ["a"],
        "input_type": "search_document",
        "embedding_types": ["float"],
    }


# -- names, keys, offline providers -------------------------------------------------------


@pytest.mark.parametrize(
    "name, var",
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-2.5-flash", "GEMINI_API_KEY (or GOOGLE_API_KEY)"),
        ("cohere/command-r", "COHERE_API_KEY (or CO_API_KEY)"),
        ("groq/llama-3.1-8b-instant", "GROQ_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(name: str, var: str, tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError) as e:
        get_provider(name, cfg(tmp_path), env={})
    assert f"no API key: set the environment variable {var}" in str(e.value)
    assert e.value.exit_code == EXIT_USAGE


def test_fallback_key_variable(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(GEMINI_ANSWER))
    config = cfg(
        tmp_path, gemini={"base_url": api.base + "/v1beta", "api_key_env": "GOOGLE_API_KEY"}
    )
    complete("gemini/gemini-2.5-flash", config, env={"GOOGLE_API_KEY": KEY})
    assert api.requests[0].headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize(
    "name, problem",
    [
        ("nosuch/model", "unknown provider 'nosuch'"),
        ("gpt-4o-mini", "needs the form provider/model"),
        ("openai/", "names no model"),
        ("", "empty model name"),
    ],
)
def test_bad_names(name: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match=problem):
        get_provider(name, cfg(tmp_path), env={})


def test_entry_with_a_model_is_a_name(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(ANTHROPIC_ANSWER))
    config = cfg(
        tmp_path,
        claude={
            "type": "anthropic",
            "model": "claude-sonnet-4-5",
            "base_url": api.base + "/v1",
            "api_key_env": "ANTHROPIC_API_KEY",
        },
    )
    c = complete("claude", config, env={"ANTHROPIC_API_KEY": KEY})
    assert (
        api.requests[0].json["model"] == "claude-sonnet-4-5"
        and c.model == "claude/claude-sonnet-4-5"
    )


def test_echo_needs_nothing(tmp_path: Path) -> None:
    c = complete(
        "echo",
        cfg(tmp_path),
        messages=[
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hello there"},
        ],
    )
    assert c.text == "Be kind.\n\nHello there" and c.cost_usd == 0.0 and c.finish_reason == "stop"
    v = embed("echo", cfg(tmp_path), ["the printer is on fire", "the printer is burning", "cats"])
    dot = [sum(a * b for a, b in zip(v[0], x)) for x in v]
    assert dot[0] == pytest.approx(1.0) and dot[1] > 0.5 > dot[2]


def test_provider_repr_and_errors_hide_the_key(tmp_path: Path) -> None:
    config = cfg(
        tmp_path,
        gw={
            "type": "openai",
            "base_url": f"http://127.0.0.1:9/v1?k={KEY}",
            "api_key_env": "GW_KEY",
        },
    )
    p = get_provider("gw/m", config, env={"GW_KEY": KEY})
    assert KEY not in repr(p.inner)  # type: ignore[attr-defined]
    assert p.inner.redact(f"url ?k={KEY}") == "url ?k=***"  # type: ignore[attr-defined]
