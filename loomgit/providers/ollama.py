"""Ollama's own chat API (``/api/chat``), and its embeddings (``/api/embed``).

Request: ``POST {base_url}/api/chat`` (``http://localhost:11434``, or ``$OLLAMA_HOST``; a
``base_url`` ending in ``/v1``, Ollama's OpenAI-compatible endpoint, is taken as the
server's root) with ``{"model", "messages", "stream": false, "tools", "format",
"options"}``. A message's text parts are its ``content`` and its images (base64
``data:`` URLs only: Ollama reads no URLs) its ``images`` list of base64 strings; an
assistant turn's ``tool_calls`` carry ``function.arguments`` as an object, a tool result
is ``{"role": "tool", "content", "tool_name"}``. ``tools`` are OpenAI's shape. Structured
output is ``format``: the JSON Schema itself (``"json"`` for ``json_object``). Params go
into ``options`` (``max_tokens`` → ``num_predict``; ``temperature``, ``top_p``, ``top_k``,
``seed``, ``stop``, penalties as they are), ``keep_alive`` and ``think`` stay at the top.
Ollama has no ``tool_choice``: ``none`` sends no tools, other values are said and the model
decides. Answer: ``message.content``, ``message.tool_calls[].function`` (``name``,
``arguments`` as an object), ``done_reason``, ``prompt_eval_count`` / ``eval_count``.
Errors: ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any

from loomgit.providers import vocab
from loomgit.providers.base import Completion, Usage
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int

_OPTIONS = {
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
_TOP_LEVEL = {"keep_alive", "think"}


def ollama_message(m: dict[str, Any], names: dict[str, str], label: str) -> dict[str, Any]:
    role = m.get("role", "user")
    out: dict[str, Any] = {"role": role}
    text: list[str] = []
    images: list[str] = []
    for p in vocab.parts(m.get("content")):
        if p.kind == "text":
            text.append(p.text)
        elif p.kind == "image" and p.data is not None:
            images.append(p.data[1])
        elif p.kind == "image":
            raise vocab.unsupported(
                label, f"Ollama takes images as base64 data: URLs only, not {p.url[:80]}"
            )
        else:
            raise vocab.unsupported(
                label, f"Ollama takes no file parts ({p.filename or 'a document'})"
            )
    out["content"] = "".join(text)
    if images:
        out["images"] = images
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {
                "function": {
                    "name": str((c.get("function") or {}).get("name", "")),
                    "arguments": vocab.call_arguments(c),
                }
            }
            for c in m["tool_calls"]
        ]
    if role == "tool":
        name = names.get(str(m.get("tool_call_id", ""))) or m.get("name")
        if name:
            out["tool_name"] = name
    return out


class OllamaProvider(HTTPProvider):
    name = "ollama"
    default_base_url = "http://localhost:11434"
    path = "/api/chat"

    def __init__(self, model: str, **kw: Any) -> None:
        super().__init__(model, **kw)
        if self.base_url.endswith("/v1"):  # the OpenAI-compatible endpoint's URL
            self.base_url = self.base_url[: -len("/v1")]

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        notes = [] if notes is None else notes
        names = vocab.tool_names(messages)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [ollama_message(m, names, self.label) for m in messages],
            "stream": False,
        }
        choice = vocab.tool_choice(params.get("tool_choice"))
        if params.get("tools") and (choice is None or choice[0] != "none"):
            body["tools"] = params["tools"]
            if choice is not None and choice[0] != "auto":
                notes.append(
                    f"Ollama has no tool_choice ({choice[1] or choice[0]!r} not sent): "
                    "the model decides whether to call a tool"
                )
        out = vocab.output_schema(params)
        if out is not None:
            body["format"] = out.schema
        elif vocab.wants_json(params):
            body["format"] = "json"
        options: dict[str, Any] = dict(params.get("options") or {})
        for k, v in params.items():
            if k in vocab.TOOL_PARAMS or k == "options":
                continue
            if k == "stop":
                options["stop"] = [v] if isinstance(v, str) else list(v)
            elif k in _OPTIONS:
                options[_OPTIONS[k]] = v
            elif k in _TOP_LEVEL or k == "format":
                body[k] = v
            elif k not in OPENAI_ONLY:
                options[k] = v
        if options:
            body["options"] = options
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        notes: list[str] = []
        body = self.request_body(messages, self.merge_params(params), notes)
        self.say(notes)
        data, latency = await self.post(self.path, body)
        try:
            msg = data["message"]
            content = msg.get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError("content")
            calls = tuple(
                vocab.call_from_text(
                    str(c.get("id") or f"call_{i}"),
                    str((c.get("function") or {}).get("name", "")),
                    (c.get("function") or {}).get("arguments"),
                )
                for i, c in enumerate(msg.get("tool_calls") or ())
            )
            return Completion(
                content or "",
                self.label,
                Usage(as_int(data.get("prompt_eval_count")), as_int(data.get("eval_count"))),
                latency,
                None,
                data.get("done_reason"),
                raw=data,
                tool_calls=calls,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no message") from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        data, _ = await self.post("/api/embed", {"model": self.model, "input": list(texts)})
        try:
            vectors = [[float(x) for x in row] for row in data["embeddings"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.shape_error(data, "no embeddings") from None
        if len(vectors) != len(texts):
            raise self.shape_error(data, f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
