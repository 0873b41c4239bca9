"""``loomgit render ID --format openai|anthropic|gemini|cohere|ollama``: the exact request
body each provider would get, with no key and nothing sent; and ``--run`` answers that
call tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from provider_server import FakeAPI, ok
from test_providers import OPENAI_ANSWER

TRIAGE = """---
description: Triage a ticket
model: openai/gpt-4o-mini
params:
  temperature: 0
  max_tokens: 200
  tools:
    - type: function
      function:
        name: lookup_customer
        description: Find a customer by email
        parameters:
          type: object
          properties: {email: {type: string}}
          required: [email]
          additionalProperties: false
  tool_choice: required
output:
  format: json
  schema:
    type: object
    properties: {priority: {type: string, enum: [low, high]}}
    required: [priority]
    additionalProperties: false
variables:
  ticket: {type: string, required: true}
sample: {ticket: "VPN down for a@x.io"}
---
system:
You triage tickets.
user:
{{ ticket }}
"""
SCHEMA = {
    "type": "object",
    "properties": {"priority": {"type": "string", "enum": ["low", "high"]}},
    "required": ["priority"],
    "additionalProperties": False,
}
PARAMETERS = {
    "type": "object",
    "properties": {"email": {"type": "string"}},
    "required": ["email"],
    "additionalProperties": False,
}


@pytest.fixture
def triage(sample_repo: Any) -> Any:
    sample_repo.commit("triage", {"prompts/support/triage.prompt": TRIAGE})
    return sample_repo


def render(cli: Any, repo: Any, *args: str) -> Any:
    return cli(["render", "support/triage", *args], cwd=repo.path)


def test_openai_body(triage: Any, cli: Any) -> None:
    r = render(cli, triage, "--format", "openai")
    assert r.exit_code == 0, r.err
    assert json.loads(r.out) == {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "max_tokens": 200,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup_customer",
                    "description": "Find a customer by email",
                    "parameters": PARAMETERS,
                },
            }
        ],
        "tool_choice": "required",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
        },
        "messages": [
            {"role": "system", "content": "You triage tickets."},
            {"role": "user", "content": "VPN down for a@x.io"},
        ],
    }
    assert r.err.strip() == ("POST https://api.openai.com/v1/chat/completions (openai/gpt-4o-mini)")


def test_anthropic_body_says_how_the_schema_went(triage: Any, cli: Any) -> None:
    r = render(cli, triage, "--format", "anthropic", "--model", "anthropic/claude-3-5-haiku-latest")
    assert r.exit_code == 0, r.err
    body = json.loads(r.out)
    assert body["model"] == "claude-3-5-haiku-latest" and body["max_tokens"] == 200
    assert body["tools"] == [
        {
            "name": "lookup_customer",
            "description": "Find a customer by email",
            "input_schema": PARAMETERS,
        }
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert body["system"].startswith("You triage tickets.\n\nAnswer with one JSON value")
    assert body["messages"] == [{"role": "user", "content": "VPN down for a@x.io"}]
    post, note = r.err.strip().splitlines()
    assert post == "POST https://api.anthropic.com/v1/messages (anthropic/claude-3-5-haiku-latest)"
    assert note.startswith(
        "loomgit: note: anthropic/claude-3-5-haiku-latest: structured output sent as "
        "instructions in the system prompt"
    )
    new = render(cli, triage, "--format", "anthropic", "--model", "anthropic/claude-sonnet-4-5")
    assert json.loads(new.out)["output_config"] == {
        "format": {"type": "json_schema", "schema": SCHEMA}
    }
    assert len(new.err.strip().splitlines()) == 1  # native: nothing to say


def test_gemini_cohere_and_ollama_bodies(triage: Any, cli: Any) -> None:
    gemini = render(cli, triage, "--format", "gemini")
    assert gemini.exit_code == 0, gemini.err
    g = json.loads(gemini.out)
    assert g["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert g["generationConfig"] == {
        "temperature": 0,
        "maxOutputTokens": 200,
        "responseMimeType": "application/json",
        "responseJsonSchema": SCHEMA,
    }
    assert gemini.err.startswith(
        "POST https://generativelanguage.googleapis.com/v1beta/models/gpt-4o-mini:generateContent"
    )
    cohere = render(cli, triage, "--format", "cohere", "--model", "cohere/command-a-03-2025")
    c = json.loads(cohere.out)
    assert c["tool_choice"] == "REQUIRED" and "response_format" not in c
    assert "Cohere's response_format does not combine with tools" in cohere.err
    ollama = render(cli, triage, "--format", "ollama", "--model", "ollama/llama3.2")
    o = json.loads(ollama.out)
    assert o["model"] == "llama3.2" and o["format"] == SCHEMA and o["stream"] is False
    assert o["options"] == {"temperature": 0, "num_predict": 200}
    assert ollama.err.startswith("POST http://localhost:11434/api/chat (ollama/llama3.2)")
    assert "Ollama has no tool_choice ('required' not sent)" in ollama.err


def test_format_needs_no_key_and_sends_nothing(triage: Any, cli: Any) -> None:
    with FakeAPI() as api:
        triage.write(
            {
                "loomgit.yaml": f'providers:\n  gw: {{type: anthropic, base_url: "{api.base}", '
                "api_key_env: GW_KEY}\n"
            }
        )
        r = render(cli, triage, "--format", "anthropic", "--model", "gw/claude-sonnet-4-5")
    assert r.exit_code == 0, r.err
    assert api.requests == []
    assert r.err.startswith(f"POST {api.base}/messages (gw/claude-sonnet-4-5)")


def test_format_without_a_model(sample_repo: Any, cli: Any) -> None:
    sample_repo.commit("bare", {"prompts/bare.prompt": "Hello {{ name }}\n"})
    r = cli(["render", "bare", "--format", "cohere", "--var", "name=Ada"], cwd=sample_repo.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["model"] == "MODEL"
    assert "no model named: the body shows 'MODEL' as the model" in r.err


@pytest.mark.parametrize("other", ["--run", "--json"])
def test_format_does_not_combine_with_run_or_json(triage: Any, cli: Any, other: str) -> None:
    r = render(cli, triage, "--format", "openai", other)
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: --format prints the request body and sends nothing: it does not "
        f"combine with {other}"
    )


def test_run_prints_tool_calls(triage: Any, cli: Any) -> None:
    answer = {
        **OPENAI_ANSWER,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "lookup_customer",
                                "arguments": '{"email":"a@x.io"}',
                            },
                        }
                    ],
                },
            }
        ],
    }
    with FakeAPI() as api:
        api.queue(ok(answer), ok(answer))
        triage.write(
            {"loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{api.base}/v1"}}\n'}
        )
        r = render(cli, triage, "--run", "--model", "srv/m")
        j = render(cli, triage, "--run", "--model", "srv/m", "--json")
    assert r.exit_code == 0, r.err
    assert r.out == '→ lookup_customer {"email": "a@x.io"}\n'
    assert "· tool_calls" in r.err
    assert json.loads(j.out)["completion"]["tool_calls"] == [
        {"id": "call_1", "name": "lookup_customer", "arguments": {"email": "a@x.io"}}
    ]
    sent = api.requests[0].json
    assert sent["tool_choice"] == "required" and sent["tools"][0]["function"]["name"] == (
        "lookup_customer"
    )
