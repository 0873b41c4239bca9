"""Google Gemini ``generateContent`` (Gemini API, v1beta).

Request: ``POST {base_url}/models/{model}:generateContent`` with header
``x-goog-api-key``; body ``{"contents": [{"role": "user"|"model", "parts": [...]}],
"systemInstruction": {"parts": [{"text"}]}, "tools", "toolConfig", "generationConfig"}``.
Parts: ``{"text"}``, ``{"inlineData": {"mimeType", "data"}}`` for data: URLs, ``{"fileData":
{"mimeType", "fileUri"}}`` for other URLs; an assistant turn's ``tool_calls`` become
``{"functionCall": {"name", "args"}}`` parts of a ``model`` turn and ``tool`` messages
``{"functionResponse": {"name", "response"}}`` parts of a ``user`` turn. ``tools`` become
``[{"functionDeclarations": [{"name", "description", "parametersJsonSchema"}]}]`` and
``tool_choice`` ``toolConfig.functionCallingConfig`` (``mode`` ``AUTO | ANY | NONE``,
``allowedFunctionNames`` for one function); a call's ``thoughtSignature`` goes back with it
in the next turn. OpenAI-style params are mapped (``max_tokens``
→ ``maxOutputTokens``, ``top_p`` → ``topP``, ``stop`` → ``stopSequences``); structured
output is ``responseMimeType: application/json`` with ``responseJsonSchema``. Answer:
``candidates[0].content.parts[]`` (``text``, ``functionCall``), ``finishReason``
(``SAFETY`` and the other block reasons are a refusal), ``usageMetadata``. Embeddings:
``models/{model}:batchEmbedContents``.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from loomgit.providers import vocab
from loomgit.providers.base import Completion, Usage
from loomgit.providers.errors import ProviderRejected
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int

_RENAME = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
_TOP_LEVEL = {"safetySettings", "toolConfig", "cachedContent", "labels"}
_BLOCKED = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "RECITATION"}
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def _media(part: vocab.Part) -> dict[str, Any]:
    d = part.data
    if d is not None:
        return {"inlineData": {"mimeType": d[0], "data": d[1]}}
    mime = mimetypes.guess_type(part.url.split("?")[0])[0] or (
        "application/pdf" if part.kind == "file" else "image/jpeg"
    )
    return {"fileData": {"mimeType": mime, "fileUri": part.url}}


def _response(content: Any) -> dict[str, Any]:
    """A tool result as the object ``functionResponse.response`` must be."""
    text = vocab.text_only(content)
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def gemini_parts(
    m: dict[str, Any], names: dict[str, str], signatures: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    if m.get("role") == "tool":
        name = names.get(str(m.get("tool_call_id", "")), "") or str(m.get("name", ""))
        return [{"functionResponse": {"name": name, "response": _response(m.get("content"))}}]
    out: list[dict[str, Any]] = []
    text: list[str] = []
    for p in vocab.parts(m.get("content")):
        if p.kind == "text":
            text.append(p.text)
            continue
        if "".join(text):
            out.append({"text": "".join(text)})
        text = []
        out.append(_media(p))
    if "".join(text) or (not out and not m.get("tool_calls")):
        out.append({"text": "".join(text)})
    for c in m.get("tool_calls") or ():
        name = str((c.get("function") or {}).get("name", ""))
        part: dict[str, Any] = {"functionCall": {"name": name, "args": vocab.call_arguments(c)}}
        sig = (signatures or {}).get(str(c.get("id", "")))
        if sig:
            part["thoughtSignature"] = sig
        out.append(part)
    return out


def contents(
    messages: list[dict[str, Any]], signatures: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Non-system messages as Gemini contents; consecutive turns of one role joined (text
    alone as one text part, joined by a blank line)."""
    names = vocab.tool_names(messages)
    merged: list[tuple[str, list[dict[str, Any]]]] = []
    for m in messages:
        if m.get("role") == "system":
            continue
        role = "model" if m.get("role") == "assistant" else "user"
        ps = gemini_parts(m, names, signatures)
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(ps)
        else:
            merged.append((role, ps))
    out = []
    for role, ps in merged:
        if all(set(p) == {"text"} for p in ps):
            ps = [{"text": "\n\n".join(p["text"] for p in ps)}]
        out.append({"role": role, "parts": ps})
    return out


class GeminiProvider(HTTPProvider):
    name = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def __init__(self, model: str, **kw: Any) -> None:
        super().__init__(model, **kw)
        # tool call id -> the thoughtSignature of its functionCall part, which thinking
        # models want back with the call in the next turn (kept for this process)
        self._signatures: dict[str, str] = {}

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    @property
    def model_path(self) -> str:
        return (
            self.model
            if self.model.startswith(("models/", "tunedModels/"))
            else f"models/{self.model}"
        )

    def request_path(self) -> str:
        return f"/{self.model_path}:generateContent"

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        chat = contents(messages, self._signatures)
        if not chat:
            raise ProviderRejected(
                f"{self.label}: Gemini needs at least one user message "
                "besides the system instruction"
            )
        body: dict[str, Any] = {"contents": chat}
        system = "\n\n".join(
            vocab.text_only(m.get("content")) for m in messages if m.get("role") == "system"
        )
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        fns = vocab.functions(params)
        if fns:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": f["name"],
                            **({"description": f["description"]} if f["description"] else {}),
                            "parametersJsonSchema": f["parameters"],
                        }
                        for f in fns
                    ]
                }
            ]
        elif params.get("tools"):
            body["tools"] = params["tools"]  # already Gemini's shape
        choice = vocab.tool_choice(params.get("tool_choice"))
        if choice is not None and "tools" in body:
            fc: dict[str, Any] = {"mode": "ANY" if choice[0] == "tool" else _MODES[choice[0]]}
            if choice[1]:
                fc["allowedFunctionNames"] = [choice[1]]
            body["toolConfig"] = {"functionCallingConfig": fc}
        config: dict[str, Any] = {}
        out = vocab.output_schema(params)
        for k, v in params.items():
            if k in _TOP_LEVEL:
                body[k] = v
            elif k in vocab.TOOL_PARAMS:
                continue
            elif k == "stop":
                config["stopSequences"] = [v] if isinstance(v, str) else list(v)
            elif k in _RENAME:
                config[_RENAME[k]] = v
            elif k == "n":
                config["candidateCount"] = v
            elif k not in OPENAI_ONLY:
                config[k] = v
        if vocab.wants_json(params):
            config["responseMimeType"] = "application/json"
        if out is not None:
            config["responseJsonSchema"] = out.schema
        if config:
            body["generationConfig"] = config
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        data, latency = await self.post(
            self.request_path(), self.request_body(messages, self.merge_params(params))
        )
        try:
            candidates = data.get("candidates") or []
            if not candidates:
                block = (data.get("promptFeedback") or {}).get("blockReason")
                if block:
                    raise ProviderRejected(
                        f"{self.label}: Gemini blocked the prompt "
                        f"(blockReason {block}); change the prompt or "
                        "its safetySettings"
                    )
                raise self.shape_error(data, "no candidates")
            cand = candidates[0]
            parts = (cand.get("content") or {}).get("parts") or []
            text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
            calls = []
            rid = str(data.get("responseId") or "")
            for i, p in enumerate(q for q in parts if isinstance(q.get("functionCall"), dict)):
                fc = p["functionCall"]
                cid = str(fc.get("id") or (f"call_{rid}_{i}" if rid else f"call_{i}"))
                calls.append(vocab.call_from_object(cid, str(fc.get("name", "")), fc.get("args")))
                if isinstance(p.get("thoughtSignature"), str):
                    self._signatures[cid] = p["thoughtSignature"]
            reason = cand.get("finishReason")
            refusal = None
            if reason in _BLOCKED and not text and not calls:
                refusal = f"the answer was blocked (finishReason {reason})"
            meta = data.get("usageMetadata") or {}
            out = as_int(meta.get("candidatesTokenCount")) + as_int(meta.get("thoughtsTokenCount"))
            return Completion(
                text,
                self.label,
                Usage(as_int(meta.get("promptTokenCount")), out),
                latency,
                None,
                reason,
                raw=data,
                tool_calls=tuple(calls),
                refusal=refusal,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no candidates[0].content") from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {
            "requests": [
                {"model": self.model_path, "content": {"parts": [{"text": t}]}} for t in texts
            ]
        }
        data, _ = await self.post(f"/{self.model_path}:batchEmbedContents", body)
        try:
            vectors = [[float(x) for x in e["values"]] for e in data["embeddings"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.shape_error(data, "no embeddings[].values") from None
        if len(vectors) != len(texts):
            raise self.shape_error(data, f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
