"""Tools, structured output, content parts and tool turns on every provider, against a real
HTTP server on 127.0.0.1: the request body each API documents, and answers holding tool
calls (parallel ones, unparseable arguments), refusals and structured output read back."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from provider_server import FakeAPI, ok
from test_providers import ANTHROPIC_ANSWER, COHERE_ANSWER, FAST, GEMINI_ANSWER, KEY, OPENAI_ANSWER

from loomgit.config import Config
from loomgit.providers import ModelClient, get_provider
from loomgit.providers.base import Completion, ToolCall

PNG = "data:image/png;base64,iVBORw0KGgo="
PDF = "data:application/pdf;base64,JVBERi0xLjQ="
LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_customer",
        "description": "Find a customer by email",
        "parameters": {
            "type": "object",
            "properties": {"email": {"type": "string"}},
            "required": ["email"],
            "additionalProperties": False,
        },
    },
}
ESCALATE = {
    "type": "function",
    "function": {
        "name": "escalate",
        "parameters": {"type": "object", "properties": {"team": {"type": "string"}}},
    },
}
CLOSED = {
    "type": "object",
    "properties": {"priority": {"type": "string", "enum": ["low", "high"]}},
    "required": ["priority"],
    "additionalProperties": False,
}
OPEN = {"type": "object", "properties": {"priority": {"type": "string"}}}


def fmt(schema: dict[str, Any]) -> dict[str, Any]:
    """``response_format`` as ``Prompt.call_params()`` sends it."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": False},
    }


# One conversation in the vocabulary: an image and a PDF, an assistant turn that called two
# tools at once, both results, then the user again.
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You triage tickets."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "VPN down, see screenshot"},
            {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": {"url": "https://example.com/shot.jpg"}},
            {"type": "file", "file": {"filename": "log.pdf", "file_data": PDF}},
        ],
    },
    {
        "role": "assistant",
        "content": "Looking it up.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_customer", "arguments": '{"email": "a@x.io"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "escalate", "arguments": '{"team": "net"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"plan": "gold"}'},
    {"role": "tool", "tool_call_id": "call_2", "content": "queued"},
    {"role": "user", "content": "Thanks. Priority?"},
]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def call(
    name: str, config: Config, messages: list[dict[str, Any]], params: dict[str, Any]
) -> Completion:
    async def go() -> Completion:
        async with get_provider(name, config, env={}, settings=FAST) as p:
            c: Completion = await p.complete(messages, params)
            return c

    result: Completion = run(go())
    return result


def srv(tmp_path: Path, api: FakeAPI, type_: str, path: str = "") -> Config:
    return Config(root=tmp_path, providers={"srv": {"type": type_, "base_url": api.base + path}})


@pytest.fixture
def api() -> Any:
    with FakeAPI() as server:
        yield server


# -- OpenAI and compatible ----------------------------------------------------------------


def openai_answer(message: dict[str, Any], finish: str = "tool_calls") -> dict[str, Any]:
    return {
        **OPENAI_ANSWER,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


def test_openai_sends_the_vocabulary_as_is_and_reads_parallel_calls(
    api: FakeAPI, tmp_path: Path
) -> None:
    api.queue(
        ok(
            openai_answer(
                {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "lookup_customer", "arguments": '{"email":"b@x"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "escalate", "arguments": '{"team": "net"'},
                        },
                    ],
                }
            )
        )
    )
    params = {"tools": [LOOKUP, ESCALATE], "tool_choice": "required", "parallel_tool_calls": True}
    c = call("srv/gpt-4o", srv(tmp_path, api, "openai", "/v1"), CONVERSATION, params)
    body = api.requests[0].json
    assert body["messages"] == CONVERSATION  # parts, tool_calls and tool turns unchanged
    assert body["tools"] == [LOOKUP, ESCALATE] and body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is True
    assert c.text == "" and c.finish_reason == "tool_calls" and c.refusal is None
    good, bad = c.tool_calls
    assert good == ToolCall("call_a", "lookup_customer", {"email": "b@x"}, '{"email":"b@x"}')
    assert (bad.id, bad.name, bad.arguments, bad.arguments_text) == (
        "call_b",
        "escalate",
        None,
        '{"team": "net"',
    )
    assert bad.error is not None and bad.error.startswith("arguments are not valid JSON")
    # the answer goes back into the conversation as the assistant turn
    turn = c.as_message()
    assert [t["function"]["arguments"] for t in turn["tool_calls"]] == [
        '{"email": "b@x"}',
        '{"team": "net"',
    ]


def test_openai_strict_only_when_the_schema_allows_it(api: FakeAPI, tmp_path: Path) -> None:
    answer = openai_answer({"role": "assistant", "content": '{"priority": "high"}'}, "stop")
    api.queue(ok(answer), ok(answer), ok(answer))
    config = srv(tmp_path, api, "openai", "/v1")
    msgs = [{"role": "user", "content": "VPN down"}]
    c = call("srv/gpt-4o", config, msgs, {"response_format": fmt(CLOSED)})
    call("srv/gpt-4o", config, msgs, {"response_format": fmt(OPEN)})
    asked = fmt(OPEN)
    asked["json_schema"]["strict"] = True
    call("srv/gpt-4o", config, msgs, {"response_format": asked})
    sent = [r.json["response_format"] for r in api.requests]
    assert sent[0] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": CLOSED, "strict": True},
    }
    assert sent[1]["json_schema"]["strict"] is False
    assert sent[2]["json_schema"]["strict"] is False  # strict asked, schema open: not sent
    assert json.loads(c.text) == {"priority": "high"} and c.finish_reason == "stop"


def test_openai_tool_choice_without_tools_is_not_sent(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(openai_answer({"role": "assistant", "content": "hi"}, "stop")))
    msgs = [{"role": "user", "content": "x"}]
    params = {"tool_choice": "auto", "parallel_tool_calls": False, "temperature": 0}
    call("srv/m", srv(tmp_path, api, "openai", "/v1"), msgs, params)
    assert api.requests[0].json == {"model": "m", "messages": msgs, "temperature": 0}


def test_openai_refusal_is_not_the_text(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(openai_answer({"role": "assistant", "content": None, "refusal": "No."}, "stop")))
    c = call("srv/m", srv(tmp_path, api, "openai", "/v1"), [{"role": "user", "content": "x"}], {})
    assert (c.text, c.refusal, c.tool_calls) == ("", "No.", ())
    assert c.to_dict()["refusal"] == "No."


def test_ollama_maps_images_tool_turns_and_format(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            {
                "model": "llama3.2",
                "created_at": "2025-04-11T18:18:52.293545Z",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"function": {"name": "lookup_customer", "arguments": {"email": "b@x"}}},
                        {"function": {"name": "escalate", "arguments": {"team": "net"}}},
                    ],
                },
                "done_reason": "stop",
                "done": True,
                "prompt_eval_count": 155,
                "eval_count": 81,
            }
        )
    )
    convo = [
        CONVERSATION[0],
        {
            "role": "user",
            "content": [{"type": "text", "text": "see"}, CONVERSATION[1]["content"][1]],
        },
        *CONVERSATION[2:],
    ]
    params = {
        "tools": [LOOKUP, ESCALATE],
        "tool_choice": "auto",
        "response_format": fmt(CLOSED),
        "temperature": 0,
        "keep_alive": "5m",
    }
    c = call("srv/llama3.2", srv(tmp_path, api, "ollama"), convo, params)
    req = api.requests[0]
    assert req.path == "/api/chat"
    assert req.json == {
        "model": "llama3.2",
        "stream": False,
        "messages": [
            {"role": "system", "content": "You triage tickets."},
            {"role": "user", "content": "see", "images": ["iVBORw0KGgo="]},
            {
                "role": "assistant",
                "content": "Looking it up.",
                "tool_calls": [
                    {"function": {"name": "lookup_customer", "arguments": {"email": "a@x.io"}}},
                    {"function": {"name": "escalate", "arguments": {"team": "net"}}},
                ],
            },
            {"role": "tool", "content": '{"plan": "gold"}', "tool_name": "lookup_customer"},
            {"role": "tool", "content": "queued", "tool_name": "escalate"},
            {"role": "user", "content": "Thanks. Priority?"},
        ],
        "tools": [LOOKUP, ESCALATE],
        "format": CLOSED,
        "options": {"temperature": 0},
        "keep_alive": "5m",
    }
    assert c.finish_reason == "stop"
    assert [(t.id, t.name, t.arguments) for t in c.tool_calls] == [
        ("call_0", "lookup_customer", {"email": "b@x"}),
        ("call_1", "escalate", {"team": "net"}),
    ]


def test_ollama_refuses_image_urls_and_says_it_has_no_tool_choice(
    api: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from loomgit.providers.errors import ProviderRejected

    config = srv(tmp_path, api, "ollama")
    with pytest.raises(
        ProviderRejected,
        match=r"^srv/llava: Ollama takes images as base64 data: URLs only, not https://example",
    ):
        call("srv/llava", config, CONVERSATION[:2], {})
    api.queue(ok({"message": {"role": "assistant", "content": "ok"}, "done_reason": "stop"}))
    with caplog.at_level(logging.WARNING, "loomgit.providers"):
        call(
            "srv/llava",
            config,
            [{"role": "user", "content": "x"}],
            {"tools": [ESCALATE], "tool_choice": "required"},
        )
    assert len(api.requests) == 1 and "tool_choice" not in api.requests[0].json
    assert "Ollama has no tool_choice ('required' not sent)" in caplog.text


# -- Anthropic ----------------------------------------------------------------------------


def anthropic_answer(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {**ANTHROPIC_ANSWER, "content": content, "stop_reason": stop}


def test_anthropic_maps_tools_parts_and_tool_turns(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            anthropic_answer(
                [
                    {"type": "text", "text": "Checking both."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01A",
                        "name": "lookup_customer",
                        "input": {"email": "b@x"},
                    },
                    {"type": "tool_use", "id": "toolu_01B", "name": "escalate", "input": {}},
                ],
                "tool_use",
            )
        )
    )
    params = {
        "tools": [LOOKUP, ESCALATE],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    c = call("srv/claude-sonnet-4-5", srv(tmp_path, api, "anthropic"), CONVERSATION, params)
    body = api.requests[0].json
    assert body["system"] == "You triage tickets."
    assert body["tools"] == [
        {
            "name": "lookup_customer",
            "description": "Find a customer by email",
            "input_schema": LOOKUP["function"]["parameters"],
        },
        {"name": "escalate", "input_schema": ESCALATE["function"]["parameters"]},
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    user, assistant, results = body["messages"]
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "VPN down, see screenshot"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
            },
            {"type": "image", "source": {"type": "url", "url": "https://example.com/shot.jpg"}},
            {
                "type": "document",
                "source": {
                    "type": "base64",
                    "media_type": "application/pdf",
                    "data": "JVBERi0xLjQ=",
                },
                "title": "log.pdf",
            },
        ],
    }
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking it up."},
            {
                "type": "tool_use",
                "id": "call_1",
                "name": "lookup_customer",
                "input": {"email": "a@x.io"},
            },
            {"type": "tool_use", "id": "call_2", "name": "escalate", "input": {"team": "net"}},
        ],
    }
    # both results and the next user message are one user turn, results first
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": '{"plan": "gold"}'},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "queued"},
            {"type": "text", "text": "Thanks. Priority?"},
        ],
    }
    assert "parallel_tool_calls" not in body and "response_format" not in body
    assert c.text == "Checking both." and c.finish_reason == "tool_use"
    assert c.tool_calls == (
        ToolCall("toolu_01A", "lookup_customer", {"email": "b@x"}, '{"email": "b@x"}'),
        ToolCall("toolu_01B", "escalate", {}, "{}"),
    )


def test_anthropic_tool_choice_shapes(api: FakeAPI, tmp_path: Path) -> None:
    answer = anthropic_answer([{"type": "text", "text": "ok"}], "end_turn")
    config = srv(tmp_path, api, "anthropic")
    msgs = [{"role": "user", "content": "x"}]
    choices = ["auto", "none", {"type": "function", "function": {"name": "escalate"}}]
    for choice in choices:
        api.queue(ok(answer))
        call("srv/claude-sonnet-4-5", config, msgs, {"tools": [ESCALATE], "tool_choice": choice})
    assert [r.json["tool_choice"] for r in api.requests] == [
        {"type": "auto"},
        {"type": "none"},
        {"type": "tool", "name": "escalate"},
    ]


def test_anthropic_structured_output_native_on_new_models(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(anthropic_answer([{"type": "text", "text": '{"priority":"low"}'}], "end_turn")))
    msgs = [{"role": "user", "content": "x"}]
    c = call(
        "srv/claude-sonnet-4-5-20250929",
        srv(tmp_path, api, "anthropic"),
        msgs,
        {"response_format": fmt(CLOSED)},
    )
    body = api.requests[0].json
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": CLOSED}}
    assert "tools" not in body and "tool_choice" not in body
    assert json.loads(c.text) == {"priority": "low"}


def test_anthropic_structured_output_as_forced_tool(
    api: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older model, or a schema output_config does not take: the schema is a tool the
    model must call, and that call's input is the answer's text."""
    api.queue(
        ok(
            anthropic_answer(
                [
                    {
                        "type": "tool_use",
                        "id": "toolu_9",
                        "name": "output",
                        "input": {"priority": "high"},
                    }
                ],
                "tool_use",
            )
        )
    )
    msgs = [{"role": "user", "content": "x"}]
    with caplog.at_level(logging.WARNING, "loomgit.providers"):
        c = call(
            "srv/claude-3-5-haiku-20241022",
            srv(tmp_path, api, "anthropic"),
            msgs,
            {"response_format": fmt(OPEN)},
        )
    body = api.requests[0].json
    assert body["tools"] == [
        {
            "name": "output",
            "description": "Give the answer: its input is the answer.",
            "input_schema": OPEN,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "output"}
    assert "output_config" not in body
    assert json.loads(c.text) == {"priority": "high"}
    assert c.tool_calls == () and c.finish_reason == "end_turn"
    assert "structured output sent as a forced tool 'output'" in caplog.text


def test_anthropic_structured_output_with_own_tools_falls_back_to_instructions(
    api: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api.queue(ok(anthropic_answer([{"type": "text", "text": '{"priority":"low"}'}], "end_turn")))
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}]
    with caplog.at_level(logging.WARNING, "loomgit.providers"):
        call(
            "srv/claude-3-5-haiku-latest",
            srv(tmp_path, api, "anthropic"),
            msgs,
            {"tools": [ESCALATE], "response_format": fmt(CLOSED)},
        )
    body = api.requests[0].json
    assert body["system"].startswith("Be brief.\n\nAnswer with one JSON value that matches")
    assert json.dumps(CLOSED, sort_keys=True) in body["system"]
    assert [t["name"] for t in body["tools"]] == ["escalate"] and "tool_choice" not in body
    assert "structured output sent as instructions in the system prompt" in caplog.text


def test_anthropic_refusal(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(anthropic_answer([], "refusal")))
    c = call(
        "srv/claude-sonnet-4-5",
        srv(tmp_path, api, "anthropic"),
        [{"role": "user", "content": "x"}],
        {},
    )
    assert c.text == "" and c.refusal == "the model declined (stop_reason: refusal)"
    assert c.finish_reason == "refusal"


# -- Gemini -------------------------------------------------------------------------------


def gemini_answer(parts: list[dict[str, Any]], finish: str = "STOP") -> dict[str, Any]:
    cand = {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
    return {**GEMINI_ANSWER, "candidates": [cand]}


def test_gemini_maps_tools_parts_and_tool_turns(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            gemini_answer(
                [
                    {"functionCall": {"name": "lookup_customer", "args": {"email": "b@x"}}},
                    {"functionCall": {"name": "escalate", "args": {"team": "net"}}},
                ]
            )
        )
    )
    params = {
        "tools": [LOOKUP, ESCALATE],
        "tool_choice": {"type": "function", "function": {"name": "escalate"}},
        "response_format": fmt(CLOSED),
        "temperature": 0,
    }
    c = call("srv/gemini-2.5-flash", srv(tmp_path, api, "gemini"), CONVERSATION, params)
    req = api.requests[0]
    assert req.path == "/models/gemini-2.5-flash:generateContent"
    body = req.json
    assert body["systemInstruction"] == {"parts": [{"text": "You triage tickets."}]}
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup_customer",
                    "description": "Find a customer by email",
                    "parametersJsonSchema": LOOKUP["function"]["parameters"],
                },
                {"name": "escalate", "parametersJsonSchema": ESCALATE["function"]["parameters"]},
            ]
        }
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["escalate"]}
    }
    assert body["generationConfig"] == {
        "temperature": 0,
        "responseMimeType": "application/json",
        "responseJsonSchema": CLOSED,
    }
    user, model, results = body["contents"]
    assert user == {
        "role": "user",
        "parts": [
            {"text": "VPN down, see screenshot"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/shot.jpg"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQ="}},
        ],
    }
    assert model == {
        "role": "model",
        "parts": [
            {"text": "Looking it up."},
            {"functionCall": {"name": "lookup_customer", "args": {"email": "a@x.io"}}},
            {"functionCall": {"name": "escalate", "args": {"team": "net"}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "lookup_customer", "response": {"plan": "gold"}}},
            {"functionResponse": {"name": "escalate", "response": {"result": "queued"}}},
            {"text": "Thanks. Priority?"},
        ],
    }
    assert c.text == "" and c.finish_reason == "STOP"
    rid = GEMINI_ANSWER["responseId"]
    assert [(t.id, t.name, t.arguments) for t in c.tool_calls] == [
        (f"call_{rid}_0", "lookup_customer", {"email": "b@x"}),
        (f"call_{rid}_1", "escalate", {"team": "net"}),
    ]


def test_gemini_thought_signatures_go_back_with_their_calls(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            gemini_answer(
                [
                    {
                        "functionCall": {"id": "fc1", "name": "escalate", "args": {"team": "net"}},
                        "thoughtSignature": "c2lnbmF0dXJl",
                    }
                ]
            )
        ),
        ok(gemini_answer([{"text": "Escalated."}])),
    )
    first = [{"role": "user", "content": "VPN down"}]
    params = {"tools": [ESCALATE]}

    async def go() -> None:
        async with get_provider(
            "srv/gemini-3-pro-preview", srv(tmp_path, api, "gemini"), env={}, settings=FAST
        ) as p:
            a = await p.complete(first, params)
            turn = [
                *first,
                a.as_message(),
                {"role": "tool", "tool_call_id": "fc1", "content": "ok"},
            ]
            await p.complete(turn, params)

    run(go())
    model_turn = api.requests[1].json["contents"][1]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "escalate", "args": {"team": "net"}},
                "thoughtSignature": "c2lnbmF0dXJl",
            }
        ],
    }


def test_gemini_blocked_answer_is_a_refusal(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(gemini_answer([], "SAFETY")))
    c = call(
        "srv/gemini-2.5-flash", srv(tmp_path, api, "gemini"), [{"role": "user", "content": "x"}], {}
    )
    assert (c.text, c.refusal) == ("", "the answer was blocked (finishReason SAFETY)")


# -- Cohere -------------------------------------------------------------------------------


def cohere_answer(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {**COHERE_ANSWER, "message": message, "finish_reason": finish}


def test_cohere_maps_tools_and_tool_turns(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            cohere_answer(
                {
                    "role": "assistant",
                    "tool_plan": "I will look the customer up.",
                    "tool_calls": [
                        {
                            "id": "lookup_customer_q2ck",
                            "type": "function",
                            "function": {
                                "name": "lookup_customer",
                                "arguments": '{"email":"b@x"}',
                            },
                        },
                        {
                            "id": "escalate_8rcf",
                            "type": "function",
                            "function": {"name": "escalate", "arguments": "team=net"},
                        },
                    ],
                },
                "TOOL_CALL",
            )
        )
    )
    convo = [m for m in CONVERSATION if m["role"] != "user"] + [
        {
            "role": "user",
            "content": [{"type": "text", "text": "see"}, CONVERSATION[1]["content"][1]],
        }
    ]
    params = {"tools": [LOOKUP, ESCALATE], "tool_choice": "required"}
    c = call("srv/command-a-03-2025", srv(tmp_path, api, "cohere"), convo, params)
    body = api.requests[0].json
    assert body["tools"] == [LOOKUP, ESCALATE] and body["tool_choice"] == "REQUIRED"
    assert body["messages"][1] == {
        "role": "assistant",
        "tool_calls": CONVERSATION[2]["tool_calls"],
        "tool_plan": "Looking it up.",
    }
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"plan": "gold"}',
    }
    assert body["messages"][4]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": PNG}},
    ]
    assert c.finish_reason == "TOOL_CALL" and c.text == ""
    good, bad = c.tool_calls
    assert good.arguments == {"email": "b@x"} and good.id == "lookup_customer_q2ck"
    assert bad.arguments is None and bad.arguments_text == "team=net" and bad.error


def test_cohere_structured_output(api: FakeAPI, tmp_path: Path) -> None:
    answer = cohere_answer(
        {"role": "assistant", "content": [{"type": "text", "text": '{"priority": "low"}'}]},
        "COMPLETE",
    )
    api.queue(ok(answer), ok(answer))
    config = srv(tmp_path, api, "cohere")
    msgs = [{"role": "user", "content": "x"}]
    c = call("srv/command-a-03-2025", config, msgs, {"response_format": fmt(CLOSED)})
    call("srv/command-a-03-2025", config, msgs, {"response_format": fmt(CLOSED), "tools": [LOOKUP]})
    first, second = (r.json for r in api.requests)
    assert first["response_format"] == {"type": "json_object", "json_schema": CLOSED}
    assert json.loads(c.text) == {"priority": "low"}
    # with tools Cohere takes no response_format: the schema goes into a system message
    assert "response_format" not in second
    assert second["messages"][0]["role"] == "system"
    assert second["messages"][0]["content"].startswith("Answer with one JSON value")


def test_cohere_refuses_file_parts_in_one_line(api: FakeAPI, tmp_path: Path) -> None:
    from loomgit.providers.errors import ProviderRejected

    with pytest.raises(
        ProviderRejected, match=r"^srv/command-a: Cohere takes no file parts \(log.pdf\)$"
    ):
        call("srv/command-a", srv(tmp_path, api, "cohere"), CONVERSATION[:2], {})
    assert api.requests == []


# -- echo and recordings ------------------------------------------------------------------


def test_echo_describes_parts_and_tool_turns(tmp_path: Path) -> None:
    c = call("echo", Config(root=tmp_path), CONVERSATION[1:2] + CONVERSATION[3:4], {})
    assert c.text == (
        "VPN down, see screenshot [image] [image: https://example.com/shot.jpg] "
        '[file: log.pdf]\n\n{"plan": "gold"}'
    )


def test_tool_call_answers_are_recorded_and_replayed_offline(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(
        ok(
            openai_answer(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "lookup_customer", "arguments": '{"email":"b@x"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "escalate", "arguments": "{oops"},
                        },
                    ],
                }
            )
        ),
        ok(openai_answer({"role": "assistant", "content": "Escalated."}, "stop")),
    )
    live = srv(tmp_path, api, "openai", "/v1")
    first = [{"role": "user", "content": "VPN down"}]
    params = {"tools": [LOOKUP, ESCALATE]}

    async def session(config: Config, mode: str) -> list[Completion]:
        async with ModelClient(config, env={}, mode=mode, cache=False, settings=FAST) as client:
            a = await client.complete("srv/gpt-4o", first, params)
            second = [
                *first,
                a.as_message(),
                {"role": "tool", "tool_call_id": "call_a", "content": "gold"},
            ]
            b = await client.complete("srv/gpt-4o", second, params)
            return [a, b]

    recorded = run(session(live, "record"))
    assert len(api.requests) == 2
    files = sorted((tmp_path / ".loomgit" / "recordings" / "srv" / "gpt-4o").glob("*.json"))
    docs = [json.loads(f.read_text()) for f in files]
    stored = {d["completion"].get("finish_reason"): d for d in docs}
    assert stored["tool_calls"]["completion"]["tool_calls"][1] == {
        "id": "call_b",
        "name": "escalate",
        "arguments": None,
        "arguments_text": "{oops",
        "error": stored["tool_calls"]["completion"]["tool_calls"][1]["error"],
    }
    assert stored["stop"]["messages"][1]["tool_calls"][0]["id"] == "call_a"
    assert stored["stop"]["messages"][2] == {
        "role": "tool",
        "content": "gold",
        "tool_call_id": "call_a",
    }
    # the server is gone and there is no key: the same conversation replays
    offline = Config(
        root=tmp_path, providers={"srv": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}}
    )
    replayed = run(session(offline, "replay"))

    def seen(cs: list[Completion]) -> list[Any]:
        return [[(t.id, t.name, t.arguments, t.error) for t in c.tool_calls] for c in cs]

    assert seen(replayed) == seen(recorded)
    assert replayed[0].tool_calls[1].error and replayed[1].text == "Escalated."
    assert all(r.cached for r in replayed)


def test_tool_fields_are_part_of_the_request_key() -> None:
    from loomgit.providers.cache import request_key

    plain = [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]
    called = [plain[0], {**plain[1], "tool_calls": CONVERSATION[2]["tool_calls"]}]
    assert request_key("m", {}, plain) != request_key("m", {}, called)
    # a message without tool fields keys as it always did
    assert request_key("m", {}, plain) == request_key(
        "m", {}, [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]
    )


def test_provider_keys_never_reach_the_body(api: FakeAPI, tmp_path: Path) -> None:
    api.queue(ok(ANTHROPIC_ANSWER))

    async def go() -> None:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.base}
        async with get_provider(
            "anthropic/claude-sonnet-4-5", Config(root=tmp_path), env=env, settings=FAST
        ) as p:
            await p.complete(CONVERSATION, {"tools": [LOOKUP]})

    run(go())
    assert KEY not in api.requests[0].body.decode()
    assert api.requests[0].headers["x-api-key"] == KEY


def test_fallbacks_reach_the_client_notes_once(api: FakeAPI, tmp_path: Path) -> None:
    answer = cohere_answer(
        {"role": "assistant", "content": [{"type": "text", "text": '{"priority": "low"}'}]},
        "COMPLETE",
    )
    api.queue(ok(answer), ok(answer))
    params = {"response_format": fmt(CLOSED), "tools": [LOOKUP]}

    async def go() -> list[str]:
        async with ModelClient(
            srv(tmp_path, api, "cohere"), env={}, cache=False, settings=FAST
        ) as client:
            for text in ("a", "b"):
                await client.complete("srv/command-a", [{"role": "user", "content": text}], params)
            return client.notes

    [note] = run(go())
    assert note.startswith("srv/command-a: structured output sent as instructions")


@pytest.mark.parametrize(
    ("schema", "strict", "native"),
    [
        (CLOSED, True, True),
        (OPEN, False, False),
        # all properties required, closed, nested and through $defs
        (
            {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
                    "minimum": {"type": "integer"},  # a property named like a keyword
                },
                "required": ["items", "minimum"],
                "additionalProperties": False,
                "$defs": {
                    "item": {
                        "type": "object",
                        "properties": {"sku": {"type": ["string", "null"]}},
                        "required": ["sku"],
                        "additionalProperties": False,
                    }
                },
            },
            True,
            True,
        ),
        # an optional property: not strict, but Anthropic's output_config takes it
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            False,
            True,
        ),
        # a nested open object, a refused keyword, bounds, a root anyOf
        (
            {
                "type": "object",
                "properties": {"meta": {"type": "object", "properties": {}}},
                "required": ["meta"],
                "additionalProperties": False,
            },
            False,
            False,
        ),
        ({**CLOSED, "allOf": [{"required": ["priority"]}]}, False, True),
        (
            {
                "type": "object",
                "properties": {"n": {"type": "integer", "maximum": 5}},
                "required": ["n"],
                "additionalProperties": False,
            },
            True,
            False,
        ),
        ({"anyOf": [CLOSED, {"type": "null"}]}, False, True),
    ],
)
def test_which_schemas_go_natively(schema: dict[str, Any], strict: bool, native: bool) -> None:
    from loomgit.providers.anthropic import fits_output_config
    from loomgit.providers.vocab import strict_allowed

    assert (strict_allowed(schema), fits_output_config(schema)) == (strict, native)


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("claude-sonnet-4-5", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-haiku-4-5", True),
        ("claude-opus-4-1-20250805", False),
        ("claude-sonnet-4-20250514", False),
        ("claude-3-5-haiku-latest", False),
        ("claude-opus-5", True),
    ],
)
def test_which_claude_models_take_output_config(model: str, native: bool) -> None:
    from loomgit.providers.anthropic import has_output_config

    assert has_output_config(model) is native
