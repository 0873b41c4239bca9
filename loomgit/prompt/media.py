"""Content parts: images and documents in a message, from ``{{ image(...) }}``,
``{{ document(...) }}`` or a ``media`` variable.

A reference is a repository path (read through the include loader, so the include rule
applies: a regular file git tracks under the include roots), an ``https://`` URL (images
only: the provider fetches it) or a ``data:`` URL. The bytes are checked before anything
else is done with them: their size against the limits below and their type by their
first bytes (the file name decides nothing). While a message renders, each part is
written into its text as a marker holding a random per-render nonce, and the text is cut
into parts at the markers afterwards (:class:`PartSink`); a variable's value cannot
forge a marker, so only the template makes parts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from loomgit.errors import IncludeRefused, LoomgitError, RenderError

MAX_IMAGE_BYTES = 5_000_000
MAX_DOCUMENT_BYTES = 10_000_000
MAX_RENDER_MEDIA_BYTES = 20_000_000  # all parts of one render together
MAX_URL_CHARS = 2048
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DOCUMENT_TYPES = ("application/pdf",)
_NAMES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "application/pdf": "PDF",
}
# a literal reference in a template: what check verifies and content hashes cover
MEDIA_REF = re.compile(r"""\b(image|document)\(\s*(["'])([^"'\n]+)\2\s*\)""")
DATA_URL = re.compile(r"^data:([a-z]+/[a-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})$")
_URL_BAD = re.compile(r"[\s\x00-\x1f\x7f]")


def media_refs(source: str) -> list[tuple[str, str, int]]:
    """(kind, literal reference, offset) of each ``image("...")``/``document("...")``."""
    if "image(" not in source and "document(" not in source:
        return []
    return [(m.group(1), m.group(3), m.start()) for m in MEDIA_REF.finditer(source)]


def has_media(text: str) -> bool:
    """Whether ``text`` may name a content part (a cheap test before :func:`media_refs`)."""
    return "image(" in text or "document(" in text


def is_file_ref(ref: str) -> bool:
    """A reference to a repository file (not an https:// or data: URL)."""
    return not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref)


def digest(data: bytes) -> str:
    """What a content part adds to its prompt's content hash (and shows in ``diff``)."""
    return f"{sniff(data) or 'unknown type'}, {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}\n"


def with_media(
    found: dict[str, str], missing: tuple[str, ...], sources: Iterable[str], load: Any | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """``found`` includes (path -> text) with each repository file the templates (and
    the files they include) name as a content part, as its :func:`digest`."""
    out, gone = dict(found), list(missing)
    for text in [*sources, *found.values()]:
        for _kind, ref, _at in media_refs(text):
            if ref in out or ref in gone or not is_file_ref(ref):
                continue
            try:
                data = read_file(load, ref) if load is not None else None
            except LoomgitError:
                data = None  # refused: rendering (and check) name the refusal
            if data is None:
                gone.append(ref)
            else:
                out[ref] = digest(data)
    return out, tuple(gone)


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its first bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _limit(kind: str) -> int:
    return MAX_IMAGE_BYTES if kind == "image" else MAX_DOCUMENT_BYTES


def _checked_type(kind: str, what: str, mime: str | None) -> str:
    """The type of a part, refused when it is not one ``kind`` takes."""
    allowed = IMAGE_TYPES if kind == "image" else DOCUMENT_TYPES
    if mime is not None and mime in allowed:
        return mime
    if mime is not None and kind == "image" and mime in DOCUMENT_TYPES:
        raise RenderError(f"{what} is a PDF document, not an image; use document(...)")
    if mime is not None and kind == "document" and mime in IMAGE_TYPES:
        raise RenderError(f"{what} is an image ({_NAMES[mime]}), not a document; use image(...)")
    takes = "a PNG, JPEG, GIF or WebP image" if kind == "image" else "a PDF document"
    got = f"its bytes are {mime}" if mime else "its bytes are of no type loomgit sends"
    raise RenderError(f"{what} is not {takes} ({got})")


def _sized(kind: str, what: str, size: int) -> None:
    if size > _limit(kind):
        raise RenderError(
            f"{what} is too large ({size:,} bytes; {kind}s are limited to {_limit(kind):,})"
        )


class Media:
    """One content part: its kind, where it came from, its type and bytes (or a URL
    the provider fetches). Rendered with ``{{ }}`` it becomes a part of the message."""

    __slots__ = ("kind", "name", "mime", "size", "_data", "_url")

    def __init__(self, kind: str, name: str, mime: str, data: bytes | None, url: str | None):
        self.kind, self.name, self.mime = kind, name, mime
        self.size = len(data) if data is not None else 0
        self._data, self._url = data, url

    def part(self) -> dict[str, Any]:
        """The message part, in the request vocabulary (OpenAI chat completions)."""
        import base64  # start-up: the commit hook loads this module and never encodes

        if self._data is None:
            return {"type": "image_url", "image_url": {"url": self._url}}
        url = f"data:{self.mime};base64,{base64.b64encode(self._data).decode('ascii')}"
        if self.kind == "image":
            return {"type": "image_url", "image_url": {"url": url}}
        filename = self.name.rsplit("/", 1)[-1] if "/" in self.name else self.name
        return {"type": "file", "file": {"filename": filename, "file_data": url}}

    def __str__(self) -> str:
        raise RenderError(
            f"{self.kind}({self.name!r}) must be output on its own, as "
            f"{{{{ {self.kind}(...) }}}}: it is a part of the message, not text"
        )

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name[:80]!r}>"


BlobLoader = Callable[[str], "str | None"]


def read_file(loader: Any, name: str) -> bytes | None:
    """The bytes of a repository file through the include loader (its ``data``
    accessor when it has one). A loader of texts (a stage or bundle read by
    ``loomgit.load()``) holds a media file as :func:`file_text` made it."""
    data_of = getattr(loader, "data", None)
    if callable(data_of):
        got = data_of(name)
        return got if isinstance(got, bytes) or got is None else None
    text = loader(name)
    if text is None:
        return None
    m = DATA_URL.match(text) if text.startswith("data:") else None
    if m is not None:
        import base64

        return base64.b64decode(m.group(2))
    return str(text).encode("utf-8")


def file_text(data: bytes) -> str:
    """A file a prompt reads, as the text a stage or bundle keeps of it: its text, or
    an image or document as its data: URL (so ``loomgit.load()`` renders its parts)."""
    mime = sniff(data)
    if mime is None:
        return data.decode("utf-8", "replace")
    import base64

    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def load_media(kind: str, ref: Any, loader: Any | None) -> Media:
    """The part ``ref`` names, checked (size before type; nothing else is done first)."""
    if not isinstance(ref, str) or not ref:
        raise RenderError(
            f"{kind}() takes a repository path, an https:// URL or a data: URL, "
            f"got {type(ref).__name__ if ref != '' else 'an empty string'}"
        )
    what = f"{kind} {ref[:80]!r}"
    low = ref[:8].lower()
    if low.startswith("data:"):
        return _data_url(kind, ref, what)
    if low.startswith("https://"):
        kind = "image" if kind == "media" else kind
        if kind == "document":
            raise RenderError(
                f"{what}: documents are sent as data, not URLs; commit the PDF and name its path"
            )
        if len(ref) > MAX_URL_CHARS or _URL_BAD.search(ref):
            raise RenderError(f"{what}: not a usable URL (too long, or has spaces or controls)")
        return Media(kind, ref, "", None, ref)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref) and not re.match(r"^[A-Za-z]:[\\/]", ref):
        raise RenderError(f"{what}: only https:// and data: URLs are taken, or repository paths")
    if loader is None:
        raise RenderError(f"{what}: no repository to read it from (render it in a repository)")
    try:
        data = read_file(loader, ref)  # the include rule applies
    except IncludeRefused as e:
        raise IncludeRefused(e.message.replace("include", kind, 1)) from None
    if data is None:
        raise RenderError(
            f"{'media' if kind == 'media' else kind} file {ref!r} not found in the repository"
        )
    kind = _kind_of(kind, data)
    _sized(kind, what, len(data))
    return Media(kind, ref, _checked_type(kind, what, sniff(data)), data, None)


def _kind_of(kind: str, data: bytes) -> str:
    """A ``media`` reference is a document when its bytes are a PDF, else an image."""
    if kind != "media":
        return kind
    return "document" if sniff(data) in DOCUMENT_TYPES else "image"


def _data_url(kind: str, ref: str, what: str) -> Media:
    import base64
    import binascii

    m = DATA_URL.match(ref)
    if m is None:
        raise RenderError("data: URL: it must be data:TYPE;base64,DATA")
    if kind == "media":
        kind = "document" if m.group(1) in DOCUMENT_TYPES else "image"
    _sized(kind, "data: URL", len(m.group(2)) * 3 // 4)
    try:
        data = base64.b64decode(m.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise RenderError("data: URL: its base64 does not decode") from None
    mime = _checked_type(kind, "data: URL", sniff(data))
    if mime != m.group(1):
        raise RenderError(f"data: URL says {m.group(1)} but its bytes are {mime}")
    return Media(kind, "data: URL", mime, data, None)


_SINK: ContextVar[PartSink | None] = ContextVar("loomgit_parts", default=None)


class PartSink:
    """The parts of one render: ``{{ part }}`` writes a marker only this render knows."""

    __slots__ = ("nonce", "items", "bytes", "_cut")

    def __init__(self) -> None:
        self.nonce = ""  # drawn at the first part: a render without parts pays nothing
        self.items: list[Media] = []
        self.bytes = 0
        self._cut: re.Pattern[str] | None = None

    def marker(self, media: Media) -> str:
        if not self.nonce:
            import secrets  # start-up: only a render with a part needs it

            self.nonce = secrets.token_hex(8)
        self.bytes += media.size
        if self.bytes > MAX_RENDER_MEDIA_BYTES:
            raise RenderError(
                f"the message parts of this prompt add up to more than "
                f"{MAX_RENDER_MEDIA_BYTES:,} bytes"
            )
        self.items.append(media)
        return f"\x00part:{self.nonce}:{len(self.items) - 1}\x00"

    def split(self, text: str) -> str | list[dict[str, Any]]:
        """``text`` as it is when it holds no marker, else its text and media parts."""
        if not self.items or "\x00part:" not in text:
            return text
        if self._cut is None:
            self._cut = re.compile(f"\x00part:{self.nonce}:(\\d+)\x00")
        out: list[dict[str, Any]] = []
        pos = 0
        for m in self._cut.finditer(text):
            _text_part(out, text[pos : m.start()])
            out.append(self.items[int(m.group(1))].part())
            pos = m.end()
        _text_part(out, text[pos:])
        return out if any(p["type"] != "text" for p in out) else text


def _text_part(out: list[dict[str, Any]], text: str) -> None:
    text = text.strip("\n")
    if text.strip():
        out.append({"type": "text", "text": text})


def as_part(media: Media) -> str:
    """The marker of ``media`` in the render under way (the sandbox's ``finalize``)."""
    sink = _SINK.get()
    if sink is None:
        raise RenderError(f"{media.kind}() can only be used in a prompt's messages")
    return sink.marker(media)


def start() -> tuple[PartSink, Any]:
    """A sink for one render, and the token :func:`stop` takes."""
    sink = PartSink()
    return sink, _SINK.set(sink)


def stop(token: Any) -> None:
    _SINK.reset(token)


def functions(loader: Any | None) -> dict[str, Callable[[Any], Media]]:
    """``image(ref)`` and ``document(ref)`` for templates rendered with ``loader``."""

    def image(ref: Any) -> Media:
        return load_media("image", ref, loader)

    def document(ref: Any) -> Media:
        return load_media("document", ref, loader)

    return {"image": image, "document": document}


def describe(part: dict[str, Any]) -> str:
    """One line saying what a non-text part is, for people (never its bytes)."""
    if part.get("type") == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        return f"[image {_data_summary(url) if url.startswith('data:') else url}]"
    if part.get("type") == "file":
        f = part.get("file") or {}
        data = str(f.get("file_data", ""))
        name = f.get("filename") or f.get("file_id") or "file"
        return f"[document {name}{', ' + _data_summary(data) if data else ''}]"
    return f"[{part.get('type', 'part')}]"


def _data_summary(url: str) -> str:
    head, _, payload = url.partition(",")
    mime = head[5:].split(";", 1)[0]
    size = len(payload) * 3 // 4 - payload.endswith("=") - payload.endswith("==")
    return f"{mime}, {size:,} bytes"


__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "MAX_DOCUMENT_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_RENDER_MEDIA_BYTES",
    "DATA_URL",
    "MEDIA_REF",
    "Media",
    "PartSink",
    "as_part",
    "describe",
    "digest",
    "file_text",
    "has_media",
    "is_file_ref",
    "with_media",
    "functions",
    "load_media",
    "media_refs",
    "read_file",
    "sniff",
    "start",
    "stop",
]
