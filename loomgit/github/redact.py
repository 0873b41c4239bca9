"""Secrets out of anything loomgit writes where others can read it (logs, the job summary,
the pull-request comment, step outputs, annotations, report files, the HTML report).

Two layers, applied together by :class:`Redactor`:

- the *values* of the environment's secret variables (``*_KEY``, ``*_TOKEN``,
  ``*_SECRET``, ``*_PASSWORD``, ``GITHUB_TOKEN`` and any names the caller adds, such as
  the providers' ``api_key_env``) become ``***``;
- well-known credential *shapes* are cut down to their kind: ``Authorization:`` and
  git ``extraheader`` lines keep their name only, ``ghp_…``/``ghs_…``/``github_pat_…``
  become ``ghp_***``, ``sk-…`` keys become ``sk-***``, ``Bearer …``/``Basic …`` become
  ``Bearer ***``. Nothing of the secret's length or characters survives.

The module knows nothing of loomgit: text and plain values in, the same with secrets out.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

SECRET_SUFFIXES = (
    "_KEY",
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_API_KEY",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_SECRET_KEY",
)
SECRET_NAMES = ("GITHUB_TOKEN",)
MASK = "***"
MIN_SECRET = 8  # shorter values would blank common words

# a header's value: to the end of the line or of the quoted or escaped string holding it
# (a JSON, XML or HTML report stays well-formed: a credential holds no quote, backslash or
# "<"); it starts with a visible character, so masking twice changes nothing
_VALUE = r"(?=[^\s\"<\\])[^\r\n\"<\\]*"
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # git's `http.<url>.extraheader = AUTHORIZATION: basic …` (what actions/checkout writes)
    (re.compile(r"(?im)(\bextraheader\b[ \t]*[=:][ \t]*\"?)" + _VALUE), r"\1" + MASK),
    (
        re.compile(r"(?im)(\b(?:proxy-)?authorization\b\"?[ \t]*[:=][ \t]*\"?)" + _VALUE),
        r"\1" + MASK,
    ),
    (re.compile(r"\b(gh[pousr])_[A-Za-z0-9]{16,}"), r"\1_" + MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{16,}"), "github_pat_" + MASK),
    # glued to other text too (a key pasted mid-word); a key holds a digit: "task-list" stays
    (re.compile(r"sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}"), "sk-" + MASK),
    # a credential holds a digit or a base64 sign: "basic checks" stays prose
    (
        re.compile(
            r"(?i)\b(bearer|basic)([ \t]+)(?=[A-Za-z0-9+/=._~-]*[0-9+/=])[A-Za-z0-9+/=._~-]{8,}"
        ),
        r"\1\2" + MASK,
    ),
)

# where any of the shapes could start: one scan decides that most strings need no
# substitution at all (a report holds tens of thousands of strings). ASCII text is scanned
# lower-cased with a case-sensitive pattern, which finds the same and is about 7× faster
# (re's IGNORECASE has no literal prefix to skip ahead with); other text, where IGNORECASE
# also matches letters such as "ſ" and "ı", keeps the IGNORECASE scan.
_STARTS = r"extraheader|authorization|gh[pousr]_|github_pat_|sk-|bearer|basic"
_ANY_SHAPE = re.compile("(?i)" + _STARTS)
_ANY_SHAPE_LOWER = re.compile(_STARTS)
_SHORTEST = min(MIN_SECRET, 13)  # "extraheader=x" is the shortest shape that is masked

T = TypeVar("T")


def _may_hold_shape(text: str) -> bool:
    """Whether one of the credential shapes could start somewhere in ``text``."""
    if text.isascii():
        return _ANY_SHAPE_LOWER.search(text.lower()) is not None
    return _ANY_SHAPE.search(text) is not None


def secret_values(environ: Mapping[str, str], names: Iterable[str] = ()) -> tuple[str, ...]:
    """The values to hide: those of secret-named variables and of ``names``, longest
    first (so a value inside another is not left half-shown)."""
    extra = {n.upper() for n in names}
    found = set()
    for name, value in environ.items():
        upper = name.upper()
        secret = upper in extra or upper in SECRET_NAMES or upper.endswith(SECRET_SUFFIXES)
        if secret and not upper.startswith("LOOMGIT_") and value and len(value) >= MIN_SECRET:
            found.add(value)
            stripped = value.strip()
            if len(stripped) >= MIN_SECRET:
                found.add(stripped)
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


class Redactor:
    """Hides the secrets of one environment in text and in plain data."""

    def __init__(self, environ: Mapping[str, str] | None = None, names: Iterable[str] = ()):
        self.values = secret_values(os.environ if environ is None else environ, names)
        # the values as JSON writes them (a quote or backslash in one is escaped there)
        self._escaped = tuple(json.dumps(v, ensure_ascii=False)[1:-1] for v in self.values)

    def text(self, text: str) -> str:
        if len(text) < _SHORTEST:
            return text
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        if not _may_hold_shape(text):
            return text
        for pattern, repl in _SHAPES:
            text = pattern.sub(repl, text)
        return text

    def data(self, value: T) -> T:
        """``value`` with every string in it redacted: dicts, lists, tuples and dataclass
        instances are copied (the original is left alone), other values kept."""
        return _walk(value, self.text)  # type: ignore[no-any-return]

    def json_data(self, value: T) -> T:
        """:meth:`data` for plain data on its way to JSON, in one scan where nothing is
        secret: ``value`` itself when its JSON text holds no secret value (as written or
        JSON-escaped) and nowhere a shape could start, else :meth:`data`'s copy.

        Every string of ``value`` is in that text escaped, and JSON escapes no letter,
        digit, ``_`` or ``-``: what :meth:`text` would find in a string, the scan finds
        in the text. About 10 µs for a 1 KB result where walking it cost about 50."""
        try:
            probe = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return self.data(value)
        if any(v in probe for v in self._escaped) or _may_hold_shape(probe):
            return self.data(value)
        return value


def _walk(v: Any, fix: Any) -> Any:
    if isinstance(v, str):
        return fix(v)
    if isinstance(v, dict):
        return {_walk(k, fix): _walk(x, fix) for k, x in v.items()}
    if isinstance(v, list):
        return [_walk(x, fix) for x in v]
    if isinstance(v, tuple):
        items = [_walk(x, fix) for x in v]
        return type(v)(*items) if hasattr(v, "_fields") else tuple(items)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        new = copy.copy(v)
        for f in dataclasses.fields(v):
            object.__setattr__(new, f.name, _walk(getattr(v, f.name), fix))
        return new
    return v


def redact(text: str, secrets_: Mapping[str, str] | None = None) -> str:
    """``text`` with the secrets of ``secrets_`` (default: this process's environment)
    and well-known credential shapes hidden (see :class:`Redactor`)."""
    return Redactor(secrets_).text(text)
