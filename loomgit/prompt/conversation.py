"""Conversation placeholders: a ``messages`` variable on a line of its own in the body
(``{{ history }}``) stands for whole turns, given as data and checked here.

Each turn is a mapping in the request vocabulary: ``role`` is ``user``, ``assistant`` or
``tool`` (a conversation never adds a ``system`` turn), ``content`` is text or a list of
parts (``text``, ``image_url``, ``file``); an assistant turn may carry ``tool_calls``, a
tool turn names its ``tool_call_id``. Turns are data, never templates: their text is not
rendered, so it cannot reach variables or open a message of another role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loomgit.errors import PromptError
from loomgit.prompt.media import (
    DATA_URL,
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    MAX_DOCUMENT_BYTES,
    MAX_IMAGE_BYTES,
    MAX_URL_CHARS,
    describe,
    sniff,
)
from loomgit.prompt.parts import MessageTemplate

TURN_ROLES = ("user", "assistant", "tool")
TURN_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")
MAX_TURNS = 1000
_URL_BAD = re.compile(r"[\s\x00-\x1f\x7f]")


def placeholder_names(meta: Mapping[str, Any]) -> frozenset[str]:
    """Names of the ``messages`` variables a frontmatter declares (``variables:``)."""
    block = meta.get("variables")
    if not isinstance(block, Mapping):
        return frozenset()
    return frozenset(
        str(name)
        for name, spec in block.items()
        if spec == "messages" or (isinstance(spec, Mapping) and spec.get("type") == "messages")
    )


def placeholder_line(placeholders: Iterable[str]) -> re.Pattern[str]:
    """A body line holding only ``{{ name }}`` of one of ``placeholders``."""
    alts = "|".join(re.escape(n) for n in sorted(placeholders))
    return re.compile(rf"^[ \t]*\{{\{{-?[ \t]*({alts})[ \t]*-?\}}\}}[ \t]*$")


def split_turns(
    lines: list[str],
    starts: list[tuple[int, str]],
    body_line: int,
    path: str,
    placeholders: Iterable[str],
    uncomment: Callable[[str], str],
) -> tuple[MessageTemplate, ...] | None:
    """The body's messages when a placeholder line splits it (None: it has none), with
    ``starts`` the role lines found. A placeholder line is a message of its own; text
    after it needs a role line of its own."""
    pat = placeholder_line(placeholders)
    found = [(i, m.group(1)) for i, ln in enumerate(lines) if "{{" in ln and (m := pat.match(ln))]
    if not found:
        return None
    marks = sorted([(i, r, "") for i, r in starts] + [(i, "placeholder", n) for i, n in found])
    lead = "\n".join(lines[: marks[0][0]])
    if uncomment(lead).strip():
        first = next(i for i, ln in enumerate(lines) if ln.strip())
        raise PromptError(
            f"text before the first role line {lines[marks[0][0]].strip()!r}; put it under a "
            "'system:' or 'user:' line",
            path=path,
            line=body_line + first,
        )
    out = []
    for n, (i, role, name) in enumerate(marks):
        end = marks[n + 1][0] if n + 1 < len(marks) else len(lines)
        chunk = lines[i + 1 : end]
        src = "\n".join(chunk).strip("\n")
        text = uncomment(src).strip()
        if name:
            if text:
                at = next(j for j, ln in enumerate(chunk) if uncomment(ln).strip())
                raise PromptError(
                    f"text after the conversation placeholder {lines[i].strip()!r} has no "
                    "role; put a role line ('user:') before it",
                    path=path,
                    line=body_line + i + 1 + at,
                )
            out.append(MessageTemplate(role, lines[i].strip(), body_line + i, placeholder=name))
            continue
        if not text:
            raise PromptError(
                f"role line '{role}:' has no message after it", path=path, line=body_line + i
            )
        blank = 0
        while blank < len(chunk) and not chunk[blank].strip():
            blank += 1
        out.append(MessageTemplate(role, src, body_line + i + 1 + blank))
    return tuple(out)


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def turns_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a list of turns for the placeholder ``name``, or None."""
    if not isinstance(value, (list, tuple)):
        return (
            f"variable {name!r} must be a list of messages ({{role, content}}), got {_kind(value)}"
        )
    if len(value) > MAX_TURNS:
        return f"variable {name!r} holds {len(value):,} messages (at most {MAX_TURNS:,})"
    for i, turn in enumerate(value, 1):
        p = turn_problem(turn)
        if p:
            return f"variable {name!r}, message {i}: {p}"
    return None


def turn_problem(turn: Any) -> str | None:
    """Why ``turn`` is not a valid turn, or None."""
    if not isinstance(turn, Mapping):
        return f"must be a mapping {{role, content}}, got {_kind(turn)}"
    unknown = sorted(str(k) for k in turn if k not in TURN_KEYS)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)} (known: {', '.join(TURN_KEYS)})"
    role = turn.get("role")
    if role not in TURN_ROLES:
        if "role" not in turn:
            return "has no role"
        return (
            f"unknown role {str(role)[:40]!r} (one of {', '.join(TURN_ROLES)}; "
            "a conversation cannot add system messages)"
        )
    if "name" in turn and not isinstance(turn["name"], str):
        return "name must be a string"
    calls = turn.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            return "only an assistant message can carry tool_calls"
        p = _calls_problem(calls)
        if p:
            return p
    if role == "tool":
        if not isinstance(turn.get("tool_call_id"), str) or not turn["tool_call_id"]:
            return "a tool message needs tool_call_id (the id of the call it answers)"
    elif "tool_call_id" in turn:
        return "only a tool message carries tool_call_id"
    content = turn.get("content")
    if content is None and role == "assistant" and calls:
        return None
    if "content" not in turn:
        return "has no content"
    return content_problem(content)


def _calls_problem(calls: Any) -> str | None:
    if not isinstance(calls, (list, tuple)) or not calls:
        return "tool_calls must be a non-empty list"
    for i, call in enumerate(calls, 1):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(fn, Mapping)
            or not isinstance(call.get("id"), str)
            or call.get("type", "function") != "function"
            or not isinstance(fn.get("name"), str)
            or not isinstance(fn.get("arguments"), str)
        ):
            return (
                f"tool call {i} must be {{id, type: function, function: {{name, arguments}}}} "
                "with arguments as a JSON string"
            )
    return None


def content_problem(content: Any) -> str | None:
    """Why ``content`` is not text or a list of parts, or None."""
    if isinstance(content, str):
        return None
    if not isinstance(content, (list, tuple)):
        return f"content must be text or a list of parts, got {_kind(content)}"
    for i, part in enumerate(content, 1):
        p = part_problem(part)
        if p:
            return f"part {i}: {p}"
    return None


def part_problem(part: Any) -> str | None:
    """Why ``part`` is not a text, image or document part, or None."""
    if not isinstance(part, Mapping):
        return f"must be a mapping {{type, ...}}, got {_kind(part)}"
    kind = part.get("type")
    if kind == "text":
        ok = set(part) <= {"type", "text"} and isinstance(part.get("text"), str)
        return None if ok else "a text part is {type: text, text: ...}"
    if kind == "image_url":
        img = part.get("image_url")
        if set(part) != {"type", "image_url"} or not isinstance(img, Mapping):
            return "an image part is {type: image_url, image_url: {url: ...}}"
        if not set(img) <= {"url", "detail"} or not isinstance(img.get("url"), str):
            return "an image part is {type: image_url, image_url: {url: ...}}"
        return _url_problem(img["url"], IMAGE_TYPES, MAX_IMAGE_BYTES)
    if kind == "file":
        f = part.get("file")
        if set(part) != {"type", "file"} or not isinstance(f, Mapping):
            return "a document part is {type: file, file: {filename, file_data}}"
        if not set(f) <= {"filename", "file_data", "file_id"}:
            return "a document part is {type: file, file: {filename, file_data}}"
        if isinstance(f.get("file_id"), str) and "file_data" not in f:
            return None
        if not isinstance(f.get("file_data"), str) or not isinstance(f.get("filename"), str):
            return "a document part is {type: file, file: {filename, file_data}}"
        if not f["file_data"].startswith("data:"):
            return "file_data must be a data: URL"
        return _url_problem(f["file_data"], DOCUMENT_TYPES, MAX_DOCUMENT_BYTES)
    return f"unknown part type {str(kind)[:40]!r} (one of text, image_url, file)"


def _url_problem(url: str, types: tuple[str, ...], limit: int) -> str | None:
    import base64  # start-up: only a turn with a data: URL needs it
    import binascii

    if url.startswith("https://"):
        if types is DOCUMENT_TYPES:
            return "documents are data: URLs, not links"
        bad = len(url) > MAX_URL_CHARS or _URL_BAD.search(url)
        return "not a usable URL (too long, or has spaces or controls)" if bad else None
    if not url.startswith("data:"):
        return "url must be https:// or a data: URL"
    m = DATA_URL.match(url)
    if m is None:
        return "a data: URL must be data:TYPE;base64,DATA"
    if len(m.group(2)) * 3 // 4 > limit:
        return f"too large ({len(m.group(2)) * 3 // 4:,} bytes; the limit is {limit:,})"
    if m.group(1) not in types:
        return f"type {m.group(1)} is not taken (one of {', '.join(types)})"
    try:
        head = base64.b64decode(m.group(2)[:16], validate=True)
    except (binascii.Error, ValueError):
        return "its base64 does not decode"
    if sniff(head) != m.group(1):
        return f"says {m.group(1)} but its bytes are {sniff(head) or 'of another type'}"
    return None


def expand(value: list[Any] | tuple[Any, ...]) -> list[dict[str, Any]]:
    """The turns of a checked placeholder value, as new message mappings."""
    out = []
    for turn in value:
        msg = {str(k): v for k, v in turn.items()}
        if isinstance(msg.get("content"), tuple):
            msg["content"] = list(msg["content"])
        out.append(msg)
    return out


PART_TOKENS = 1_000  # what an image or document part is counted as in token estimates


def content_text(content: Any) -> str:
    """A message's content as text for people and estimates: its text, or the text of
    its parts with a line saying what each image or document is."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        str(p.get("text", "")) if p.get("type") == "text" else describe(p)
        for p in content
        if isinstance(p, dict)
    )


def media_parts(content: Any) -> int:
    """How many image and document parts a message's content has."""
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") != "text")


def text_chars(content: Any) -> int:
    """Characters of text in a message's content (str, or the text of its parts)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return 0


__all__ = [
    "MAX_TURNS",
    "PART_TOKENS",
    "content_text",
    "media_parts",
    "TURN_ROLES",
    "content_problem",
    "expand",
    "part_problem",
    "placeholder_line",
    "placeholder_names",
    "split_turns",
    "text_chars",
    "turn_problem",
    "turns_problem",
]
