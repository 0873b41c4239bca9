"""The OpenAPI 3.1 document of the server (``GET /openapi.json``)."""

from __future__ import annotations

import functools
from typing import Any

from loomgit._version import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    str(code): _json(_ref("Error"), text)
    for code, text in (
        (400, "Bad request: malformed JSON, an unknown field, a bad stage"),
        (401, "No API key, or not a valid one"),
        (403, "The key may not do this (a read key on an execution)"),
        (404, "No such prompt, version or stage content"),
        (413, "The body is too large"),
        (422, "The variables do not fit the prompt"),
        (429, "The key is over its rate limit (Retry-After says when to retry)"),
        (502, "The model provider failed"),
        (503, "The repository, bundle or provider is not available"),
    )
}
_SELECT = [
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for n, d in (
        ("stage", "What this stage holds (default: production)"),
        ("version", "A version from history: 1.2.0, 1.2 or latest"),
        ("ref", "A commit (or anything git names one with) from history"),
    )
]
_VARIABLES = {"type": "object", "description": "Values of the prompt's variables"}
_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Message": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"enum": ["system", "user", "assistant", "tool"]},
            "content": {"oneOf": [{"type": "string"}, {"type": "array"}]},
            "tool_calls": {"type": "array"},
            "tool_call_id": {"type": "string"},
        },
    },
    "Prompt": {
        "type": "object",
        "required": ["id", "version", "content_hash", "messages", "variables"],
        "properties": {
            "id": {"type": "string"},
            "version": {"type": "string"},
            "stage": {"type": "string"},
            "content_hash": {"type": "string"},
            "source_commit": {"type": "string"},
            "path": {"type": "string"},
            "description": {"type": "string"},
            "model": {"type": ["string", "null"]},
            "params": {"type": "object"},
            "variables": {"type": "object", "description": "JSON Schema of the variables"},
            "messages": {"type": "array", "items": {"type": "object"}},
            "tools": {"type": "array"},
            "output": {"type": ["object", "null"]},
            "sample": {"type": ["object", "null"]},
            "rendered": {"type": "array", "items": _ref("Message")},
        },
    },
    "Listing": {
        "type": "object",
        "properties": {
            "stage": {"type": "string"},
            "prompts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        k: {"type": "string"} for k in ("id", "version", "stage", "content_hash")
                    },
                },
            },
        },
    },
    "Rendered": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "version": {"type": "string"},
            "content_hash": {"type": "string"},
            "messages": {"type": "array", "items": _ref("Message")},
        },
    },
    "Execution": {
        "type": "object",
        "properties": {
            "completion": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "tool_calls": {"type": "array"},
                    "finish_reason": {"type": ["string", "null"]},
                    "usage": {"type": "object"},
                    "refusal": {"type": ["string", "null"]},
                },
            },
            "lineage": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "version": {"type": "string"},
                    "content_hash": {"type": "string"},
                    "model": {"type": "string"},
                    "tokens": {"type": "object"},
                    "cost": {"type": ["number", "null"]},
                    "latency_ms": {"type": "number"},
                },
            },
        },
    },
}


@functools.cache
def openapi() -> dict[str, Any]:
    auth: list[dict[str, list[str]]] = [{"bearer": []}]
    read = {"security": auth, "responses": _ERRORS}
    path_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    selectors = {k: {"type": "string"} for k in ("stage", "version", "ref")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "loomgit serve", "version": __version__},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/prompts": {
                "get": {
                    **read,
                    "summary": "The prompts a stage holds",
                    "parameters": _SELECT[:1],
                    "responses": {**_ERRORS, "200": _json(_ref("Listing"), "The listing")},
                }
            },
            "/v1/prompts/{id}": {
                "get": {
                    **read,
                    "summary": "One prompt; ETag is its content hash",
                    "parameters": [
                        path_id,
                        *_SELECT,
                        {
                            "name": "render",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "A JSON object of variables: adds 'rendered'",
                        },
                    ],
                    "responses": {
                        **_ERRORS,
                        "200": _json(_ref("Prompt"), "The prompt"),
                        "304": {"description": "Not modified (If-None-Match)"},
                    },
                }
            },
            "/v1/prompts/{id}/render": {
                "post": {
                    **read,
                    "summary": "Render the prompt's messages",
                    "parameters": [path_id],
                    "requestBody": _json(
                        {"type": "object", "properties": {"variables": _VARIABLES, **selectors}},
                        "Variables and which version",
                    ),
                    "responses": {**_ERRORS, "200": _json(_ref("Rendered"), "The messages")},
                }
            },
            "/v1/executions": {
                "post": {
                    **read,
                    "summary": "Render and run a prompt (needs an execute key)",
                    "requestBody": _json(
                        {
                            "type": "object",
                            "required": ["prompt"],
                            "properties": {
                                "prompt": {"type": "string"},
                                "variables": _VARIABLES,
                                **selectors,
                                "model": {"type": "string"},
                                "params": {"type": "object"},
                                "stream": {"type": "boolean"},
                            },
                        },
                        "What to run",
                    ),
                    "responses": {
                        **_ERRORS,
                        "200": {
                            "description": "The completion and its lineage; with stream: true, "
                            "Server-Sent Events (delta, completion, error)",
                            "content": {
                                "application/json": {"schema": _ref("Execution")},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                    },
                }
            },
            "/healthz": {"get": {"summary": "Alive", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {
                "get": {
                    "summary": "Ready to answer (the repository or bundle can be read)",
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not"}},
                }
            },
            "/metrics": {
                "get": {
                    "security": auth,
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {"200": {"description": "metrics"}},
                }
            },
        },
    }
