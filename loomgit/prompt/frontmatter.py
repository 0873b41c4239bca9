"""The frontmatter of a prompt file: splitting it from the body, and reading it as data.

History passes read tens of thousands of versions, so both have fast paths here, tested
equal to the plain implementation: the split is a few ``str.find`` calls instead of a
line loop, and :class:`FrontmatterReader` reads a frontmatter block by block (each
distinct top-level ``key: ...`` block is read once per pass), with the plain shapes most
blocks have (``model: a/b``, ``params: {temperature: 0.2}``, ``tags: [a, b]``, indented
``name: {type: string, enum: [a, b]}`` lines) read without a YAML parser by YAML 1.2's
core schema, as :func:`loomgit._yaml.load` reads them.
"""

from __future__ import annotations

import re
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import LoomgitError, PromptError


def split_frontmatter_by_lines(text: str, path: str) -> tuple[str | None, str, int]:
    """:func:`split_frontmatter`, line by line (the definition the fast path must equal)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise PromptError("frontmatter opened with '---' is never closed", path=path, line=1)


def split_frontmatter(text: str, path: str) -> tuple[str | None, str, int]:
    """(frontmatter YAML or None, body, 1-based line where the body starts)."""
    if not text.startswith("---"):
        return None, text, 1
    nl = text.find("\n")
    if nl < 0 or text[:nl].rstrip() != "---":
        return split_frontmatter_by_lines(text, path)
    start = end = -1
    i = nl
    while True:  # the first line after the opening one that is --- or ... (and blanks)
        j, k = text.find("\n---", i), text.find("\n...", i)
        cand = j if k < 0 or 0 <= j < k else k
        if cand < 0:
            break
        eol = text.find("\n", cand + 4)
        eol = len(text) if eol < 0 else eol
        rest = text[cand + 4 : eol]
        if not rest or rest.isspace():
            start, end = cand + 1, eol
            break
        i = cand + 1
    if start < 0:
        return split_frontmatter_by_lines(text, path)  # raises the parser's own error
    fm = text[nl + 1 : start - 1] if start > nl + 1 else ""
    body = text[end + 1 :] if end < len(text) else ""
    return fm, body, (fm.count("\n") + 4) if start > nl + 1 else 3


_FM_ID = re.compile(r"^id:[ \t]*(['\"]?)([A-Za-z0-9_./-]+)['\"]?[ \t]*$", re.MULTILINE)
_FM_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
ID_SCAN = 8192  # how far into a file an ``id:`` is looked for


def frontmatter_id(text: str) -> str | None:
    """The ``id:`` a file's frontmatter sets, found without parsing it (a plain one-line
    ``id: name`` within the first :data:`ID_SCAN` characters; an unquoted value that YAML
    reads as other than a string, such as ``123`` or ``true``, sets no id)."""
    if not text.startswith("---") or text.find("id:", 0, ID_SCAN) < 0:
        return None
    head = text[3:ID_SCAN]
    end = _FM_END.search(head)
    m = _FM_ID.search(head[: end.start()] if end else head)
    if m is None or (not m.group(1) and not isinstance(_yaml.plain_scalar(m.group(2)), str)):
        return None
    return m.group(2)


# --- top-level blocks --------------------------------------------------------------------

_BLOCK = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t][^\n]*)?"
    r"(?:\n(?=[ \t#\n-]|\Z)[^\n]*)*",
    re.MULTILINE,
)
_LEAD = re.compile(r"(?:(?:[ \t#][^\n]*)?\n)*")


def split_blocks(fm_text: str) -> list[tuple[str, str]] | None:
    """Top-level ``key: ...`` blocks of a frontmatter, as text; None when the YAML is not
    plainly laid out that way (the whole document is parsed then). A block is its key
    line and the blank, indented, comment and flush ``- item`` lines after it."""
    out = []
    pos = -1
    for m in _BLOCK.finditer(fm_text):
        if pos < 0:
            lead = fm_text[: m.start()]
            if lead and not _LEAD.fullmatch(lead):
                return None  # something before the first key that is not a comment
        elif m.start() != pos + 1:
            return None  # a line between blocks that is not part of one
        out.append((m.group(1), m.group()))
        pos = m.end()
    if pos < 0:
        return None if fm_text.strip(" \t\n") and not _LEAD.fullmatch(fm_text + "\n") else []
    return out if pos == len(fm_text) else None


# --- plain block values, without a YAML parser -------------------------------------------

_FLOW_WORD = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'!?;-]*")
_TOP_WORD = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'!?;,-]*")
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORDS: dict[str, Any] = {
    **dict.fromkeys(_yaml.TRUES, True),
    **dict.fromkeys(_yaml.FALSES, False),
    **dict.fromkeys(_yaml.NULLS - {"", "~"}, None),
}


class _NotPlain(Exception):
    pass


def _key(s: str, i: int, taken: dict[str, Any]) -> re.Match[str]:
    m = _KEY.match(s, i)
    if m is None or s[m.end() : m.end() + 2] != ": " or m.group() in taken or m.group() in _WORDS:
        raise _NotPlain  # also keys YAML reads as true/false/null
    return m


def _word(text: str) -> Any:
    text = text.rstrip(" ")
    if text in _WORDS:
        return _WORDS[text]  # YAML 1.2's booleans and null
    if text.endswith(":"):
        raise _NotPlain
    return text


def _flow(s: str, i: int, top: bool, depth: int = 0) -> tuple[Any, int]:
    """One value at ``s[i]``: a flow mapping or list, a quoted or plain scalar (nested
    flows deeper than a few levels are left to the YAML parser and its limits)."""
    n = len(s)
    while i < n and s[i] == " ":
        i += 1
    if i >= n:
        raise _NotPlain
    c = s[i]
    if c == "{" or c == "[":
        if depth >= 8:
            raise _NotPlain
        close = "}" if c == "{" else "]"
        out_map: dict[str, Any] = {}
        out_seq: list[Any] = []
        i += 1
        while True:
            while i < n and s[i] == " ":
                i += 1
            if i < n and s[i] == close and not (out_map or out_seq):
                return (out_map if c == "{" else out_seq), i + 1
            if c == "{":
                km = _key(s, i, out_map)
                out_map[km.group()], i = _flow(s, km.end() + 2, False, depth + 1)
            else:
                value, i = _flow(s, i, False, depth + 1)
                out_seq.append(value)
            while i < n and s[i] == " ":
                i += 1
            if i < n and s[i] == ",":
                i += 1
                continue
            if i < n and s[i] == close:
                return (out_map if c == "{" else out_seq), i + 1
            raise _NotPlain
    if c == '"' or c == "'":
        j = s.find(c, i + 1)
        if j < 0 or (c == '"' and "\\" in s[i:j]) or s[j + 1 : j + 2] == c:
            raise _NotPlain
        return s[i + 1 : j], j + 1
    m = _NUM.match(s, i)
    if m is not None:
        end = m.end()
        rest = s[end:].lstrip(" ")
        if rest == "" or (not top and rest[0] in ",}]"):
            text = m.group()
            return (float(text) if "." in text else int(text)), end
        raise _NotPlain
    m = (_TOP_WORD if top else _FLOW_WORD).match(s, i)
    if m is None:
        raise _NotPlain
    return _word(m.group()), m.end()


def _line_value(s: str) -> Any:
    value, end = _flow(s, 0, True)
    if s[end:].strip(" "):
        raise _NotPlain
    return value


def simple_block(text: str) -> dict[str, Any] | None:
    """``{key: value}`` for a block of a plain shape, else None (YAML reads it then)."""
    first, _, rest = text.partition("\n")
    m = _KEY.match(first)
    if m is None or first[m.end() : m.end() + 1] != ":" or m.group() in _WORDS:
        return None
    key, after = m.group(), first[m.end() + 1 :]
    try:
        if not rest:
            if not after.startswith(" ") or not after.strip(" "):
                return None
            return {key: _line_value(after[1:])}
        if after.strip(" "):
            return None
        lines = rest.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not lines:
            return None
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        if lines[0][indent : indent + 2] == "- ":  # a list: "  - a" or "- a"
            items = []
            for ln in lines:
                if (
                    ln[:indent] != " " * indent
                    or ln[indent : indent + 2] != "- "
                    or ln[indent + 2 : indent + 3] == " "
                ):
                    return None
                items.append(_line_value(ln[indent + 2 :]))
            return {key: items}
        if indent == 0:
            return None
        out: dict[str, Any] = {}
        for ln in lines:
            if ln[:indent] != " " * indent or ln[indent : indent + 1] == " ":
                return None
            km = _key(ln, indent, out)
            out[km.group()] = _line_value(ln[km.end() + 2 :])
        return {key: out}
    except (_NotPlain, ValueError):
        return None


def load_frontmatter(fm_text: str, path: str | None = None) -> Any:
    """A frontmatter (or one block of it) as plain data, by :func:`loomgit._yaml.load`."""
    return _yaml.plain(_yaml.load(fm_text, path=path, line_offset=1))


class FrontmatterReader:
    """Reads frontmatter as plain data (no line numbers), caching each distinct block."""

    def __init__(self) -> None:
        self._blocks: dict[str, Any] = {}

    def _block(self, text: str) -> Any:
        """One top-level block read on its own (None when it does not read alone)."""
        if text in self._blocks:
            return self._blocks[text]
        got = simple_block(text)
        if got is None:
            try:
                got = load_frontmatter(text)
            except LoomgitError:
                got = None
        if len(self._blocks) > 50_000:
            self._blocks.clear()
        self._blocks[text] = got
        return got

    def read(self, fm_text: str, path: str | None = None) -> tuple[Any, dict[str, str]]:
        """(the frontmatter as data, the text of each top-level block by key, when it was
        read block by block: a cache key for what is derived from one block)."""
        blocks = split_blocks(fm_text)
        if blocks is not None:
            meta: dict[str, Any] = {}
            texts: dict[str, str] = {}
            for key, text in blocks:
                got = self._block(text)
                if not isinstance(got, dict) or len(got) != 1 or key not in got or key in meta:
                    break
                meta[key] = got[key]
                texts[key] = text
            else:
                return meta, texts
        return load_frontmatter(fm_text, path), {}
