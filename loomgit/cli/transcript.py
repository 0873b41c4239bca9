"""How ``render`` shows messages to people: each message under its role, the text of
its parts as text, an image or document as one line saying what it is (never its
bytes), an assistant's tool calls and the call a tool message answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loomgit.cli.output import echo, echo_content, one_line, style
from loomgit.prompt.media import describe


def show_messages(messages: Sequence[dict[str, Any]]) -> None:
    for i, m in enumerate(messages):
        if i:
            echo()
        head = str(m.get("role", ""))
        if m.get("tool_call_id"):
            head += f" (answers {one_line(str(m['tool_call_id']))})"
        echo(style(f"{head}:", bold=True))
        content = m.get("content")
        if isinstance(content, str):
            echo_content(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    echo_content(str(part.get("text", "")))
                elif isinstance(part, dict):
                    echo(style(describe(part), dim=True))
        for call in m.get("tool_calls") or ():
            fn = call.get("function") or {}
            args = fn.get("arguments", "")
            try:
                args = json.dumps(json.loads(args), ensure_ascii=False)
            except (TypeError, ValueError):
                pass
            echo(
                style(
                    f"[tool call {one_line(str(fn.get('name', '')))} {one_line(str(args))} "
                    f"(id {one_line(str(call.get('id', '')))})]",
                    dim=True,
                )
            )
