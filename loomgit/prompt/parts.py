"""The parts a prompt is made of: variables, message templates, the output spec, and the
content hash of its text. Everything else in ``prompt/`` builds on these."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

IncludeLoader = Callable[[str], "str | None"]
VARIABLE_TYPES = (
    *("string", "number", "integer", "boolean", "array", "object", "any"),
    *("messages", "media"),  # turns for a placeholder; an image or document part
)
ROLES = ("system", "user", "assistant")
_BLANKS = tuple(" \t\x0b\x0c\r\x1c\x1d\x1e\x1f")  # what str.rstrip() strips in ASCII
# a literal include/import/extends/from: the names a template reads other files by
INCLUDE_REF = re.compile(r"""\{%-?\s*(?:include|import|extends|from)\s+(["'])([^"'\n]+)\1""")


def include_names(source: str) -> list[str]:
    """Literal names a template includes or imports (dynamic names cannot be known)."""
    return [m.group(2) for m in INCLUDE_REF.finditer(source)] if "{%" in source else []


@dataclass(frozen=True)
class Variable:
    """A declared template variable."""

    name: str
    type: str = "any"
    required: bool = True
    default: Any = None
    enum: tuple[Any, ...] | None = None
    description: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "required": self.required}
        if not self.required:
            d["default"] = self.default
        if self.enum is not None:
            d["enum"] = list(self.enum)
        if self.description:
            d["description"] = self.description
        return d


@dataclass(frozen=True)
class MessageTemplate:
    """One message of the body: its role and its Jinja source, found before rendering
    (``verbatim``: the text itself, never rendered: ``template: none``). A conversation
    placeholder (``{{ history }}`` of a ``messages`` variable on a line of its own) has
    role ``placeholder`` and names its variable in ``placeholder``: it renders to turns."""

    role: str
    source: str
    line: int  # 1-based line in the file where ``source`` starts
    verbatim: bool = False
    placeholder: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    format: str = "text"  # text | json
    schema: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "schema": self.schema}


class Renderable(Protocol):
    """What rendering needs of a prompt (:class:`loomgit.prompt.model.Prompt` is one)."""

    @property
    def path(self) -> str: ...
    @property
    def messages(self) -> tuple[MessageTemplate, ...]: ...
    @property
    def variables(self) -> dict[str, Variable] | None: ...
    @property
    def sample(self) -> dict[str, Any] | None: ...


def normalize_text(text: str) -> str:
    """The form content hashes are taken of: LF line ends, no trailing blanks, one final LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln.rstrip() for ln in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def unblanked(text: str) -> bool:
    """True when ``text`` is ASCII and no line of it ends in a blank (what ``str.rstrip()``
    strips), so stripping each line would change nothing. Substring searches, not a
    regex scan: this runs on every historical blob."""
    return (
        text.isascii()
        and text[-1:] not in _BLANKS
        and " \n" not in text
        and "\t\n" not in text
        and "\r" not in text
        and "\x0b" not in text
        and "\x0c" not in text
        and "\x1c" not in text
        and "\x1d" not in text
        and "\x1e" not in text
        and "\x1f" not in text
    )


def content_hash(text: str, includes: Mapping[str, str] | None = None) -> str:
    """sha256 of the normalized text, and of each included file's normalized text."""
    if not includes and unblanked(text):
        return hashlib.sha256((text.strip("\n") + "\n").encode()).hexdigest()
    h = hashlib.sha256(normalize_text(text).encode("utf-8"))
    for name in sorted(includes or {}):
        h.update(b"\0include\0" + name.encode("utf-8") + b"\0")
        h.update(normalize_text((includes or {})[name]).encode("utf-8"))
    return h.hexdigest()
