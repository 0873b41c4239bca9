"""Read prompt files: frontmatter, role lines, Prompty mapping, Dotprompt detection.

Parsing raises :class:`PromptError` (with file and line) for anything that leaves no
usable prompt; softer problems are reported by :mod:`loomgit.prompt.validate`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit.config import GlobSpec
from loomgit.errors import PromptError
from loomgit.prompt.conversation import placeholder_names, split_turns
from loomgit.prompt.errpos import TEMPLATE_NONE_HINT
from loomgit.prompt.fields import parse_variables, prompty_model, read_fields
from loomgit.prompt.frontmatter import split_frontmatter
from loomgit.prompt.ghmodels import is_ghmodels, parse_ghmodels
from loomgit.prompt.model import MessageTemplate, Prompt
from loomgit.prompt.placeholders import mustache_messages
from loomgit.prompt.prompty import split_body as prompty_body

MAX_FILE_BYTES = 1_000_000
ROLE_LINE = re.compile(r"^[ \t]*(system|user|assistant)[ \t]*:[ \t]*$", re.IGNORECASE)
ID_RE = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_HANDLEBARS = re.compile(
    r"\{\{\s*(?:role\s+\"|#(?:if|each|unless|with)\b|/(?:if|each|unless|with)\b|>\s*\w|media\s+url)"
)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def id_problem(prompt_id: str) -> str | None:
    """Why ``prompt_id`` is not a valid id, or None."""
    if not prompt_id:
        return "empty id"
    if prompt_id.startswith("/") or re.match(r"^[A-Za-z]:", prompt_id):
        return f"id {prompt_id!r} is an absolute path"
    if not ID_RE.match(prompt_id):
        return f"id {prompt_id!r} may only use letters, digits and _ . / -"
    if any(part in (".", "..") for part in prompt_id.split("/")):
        return f"id {prompt_id!r} must not contain '.' or '..' segments"
    return None


def decode(data: bytes, path: str) -> str:
    """Bytes of a prompt file as text, or a clear error for binary / non-UTF-8 / huge files."""
    if len(data) > MAX_FILE_BYTES:
        raise PromptError(
            f"file is too large ({len(data) / 1_000_000:.1f} MB; prompts are limited to "
            f"{MAX_FILE_BYTES // 1_000_000} MB)",
            path=path,
        )
    if b"\0" in data:
        raise PromptError("binary file (contains NUL bytes), not a text prompt", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PromptError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded)", path=path, line=line
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def symlink_error(path: str) -> PromptError:
    """A prompt file that is a symlink: never followed (it could point anywhere)."""
    return PromptError(
        "prompt file is a symlink; loomgit does not follow symlinks (commit the file itself)",
        path=path,
    )


def read_prompt(
    path: str | Path,
    *,
    display: str | None = None,
    prompt_id: str | None = None,
    root: Path | None = None,
    glob: GlobSpec | None = None,
) -> Prompt:
    """Read and parse one prompt file from disk (``glob``: the entry that matched it,
    whose options apply to a plain file)."""
    p = Path(path)
    shown = display or str(path)
    if p.is_symlink():
        raise symlink_error(shown)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise PromptError("no such file", path=shown) from None
    except IsADirectoryError:
        raise PromptError("is a folder, not a prompt file", path=shown) from None
    except OSError as e:
        raise PromptError(f"cannot read: {e.strerror}", path=shown) from None
    return parse_prompt(decode(data, shown), shown, prompt_id=prompt_id, glob=glob)


def is_plain(fm_text: str | None, path: str) -> bool:
    """A plain file: no frontmatter, and not a ``.prompt``/``.prompty`` file."""
    return fm_text is None and not path.endswith((".prompt", ".prompty"))


def plain_options(fm_text: str | None, path: str, glob: GlobSpec | None) -> tuple[str, bool]:
    """(default role, verbatim) of a file: its glob entry's options when it is plain."""
    if glob is None or not is_plain(fm_text, path):
        return "user", False
    return glob.role or "user", glob.verbatim


def strip_ext(path: str) -> str:
    return re.sub(r"(?:\.prompt\.ya?ml|\.[^./]+)$", "", path.replace("\\", "/"))


def default_id(path: str) -> str:
    """An id from a path when no glob gave one: the path without ``prompts/`` and extension."""
    p = strip_ext(path)
    return p[len("prompts/") :] if p.startswith("prompts/") else p


def split_messages(
    body: str,
    body_line: int,
    path: str,
    role: str = "user",
    verbatim: bool = False,
    placeholders: frozenset[str] = frozenset(),
) -> tuple[MessageTemplate, ...]:
    """Split the body at role lines; roles are found in the source, before rendering.
    A body without role lines is one message of ``role``; ``verbatim`` messages are
    text, never templates (``{# #}`` is text too). A line holding only ``{{ name }}``
    of one of ``placeholders`` (the ``messages`` variables) is a message of its own."""

    def uncomment(src: str) -> str:
        return src if verbatim else _JINJA_COMMENT.sub("", src)

    lines = body.split("\n")
    starts = [(i, m.group(1).lower()) for i, ln in enumerate(lines) if (m := ROLE_LINE.match(ln))]
    if placeholders and not verbatim:
        turns = split_turns(lines, starts, body_line, path, placeholders, uncomment)
        if turns is not None:
            return turns
    if not starts:
        blank = len(body) - len(body.lstrip("\n"))  # blank lines before the text
        return (MessageTemplate(role, body.strip("\n"), body_line + blank, verbatim),)
    lead = uncomment("\n".join(lines[: starts[0][0]]))
    if lead.strip():
        first = next(i for i, ln in enumerate(lines) if ln.strip())
        raise PromptError(
            f"text before the first role line {lines[starts[0][0]].strip()!r}; put it under a "
            "'system:' or 'user:' line",
            path=path,
            line=body_line + first,
        )
    out = []
    for n, (i, role) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        chunk = lines[i + 1 : end]
        src = "\n".join(chunk).strip("\n")
        if not uncomment(src).strip():
            raise PromptError(
                f"role line '{role}:' has no message after it", path=path, line=body_line + i
            )
        lead_blank = 0
        while lead_blank < len(chunk) and not chunk[lead_blank].strip():
            lead_blank += 1
        out.append(MessageTemplate(role, src, body_line + i + 1 + lead_blank, verbatim))
    return tuple(out)


def message_sources(
    body: str,
    body_line: int,
    path: str,
    role: str = "user",
    verbatim: bool = False,
    placeholders: frozenset[str] = frozenset(),
) -> tuple[tuple[str, str], ...]:
    """(role, source) of each message, as :func:`split_messages` finds them; the usual
    layout is read in one regex pass, anything else by :func:`split_messages`."""
    got = None if verbatim or placeholders else _fast_messages(body, role)
    if got is None:
        msgs = split_messages(body, body_line, path, role, verbatim, placeholders)
        got = tuple((m.role, m.source) for m in msgs)
    return got


_ROLE_LINES = re.compile(r"^[ \t]*((?i:system|user|assistant))[ \t]*:[ \t]*$", re.MULTILINE)


def _fast_messages(body: str, role: str = "user") -> tuple[tuple[str, str], ...] | None:
    """The common cases of :func:`split_messages` (no role line: the body is one message
    of ``role``); None when the parser must look (text before the first role line, an
    empty message)."""
    if "\r" in body:
        return None
    low = body.lower()  # a role line holds its role's name: most prose holds none
    named = not body.isascii() or "user" in low or "system" in low or "assistant" in low
    found = list(_ROLE_LINES.finditer(body)) if named else []
    if not found:
        return ((role, body.strip("\n")),) if body.strip() else None
    lead = body[: found[0].start()]
    if lead and not lead.isspace() and _JINJA_COMMENT.sub("", lead).strip():
        return None
    out = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(body)
        src = body[m.end() + 1 : end].strip("\n") if m.end() < len(body) else ""
        if not src or src.isspace() or ("{#" in src and not _JINJA_COMMENT.sub("", src).strip()):
            return None
        out.append((m.group(1).lower(), src))
    return tuple(out)


def check_body(
    meta: dict[str, Any],
    body: str,
    body_line: int,
    path: str,
    lines: dict[str, int],
    plain: bool = False,
) -> None:
    """Refuse a Google Dotprompt file (Handlebars) and a frontmatter without a body
    (``plain``: a file without frontmatter, whose braces may be literal text)."""
    m = _HANDLEBARS.search(body) if "{{" in body else None
    if m is not None or (
        "input" in meta and isinstance(meta.get("input"), dict) and "schema" in meta["input"]
    ):
        line = body_line + body[: m.start()].count("\n") if m else lines.get("input")
        col = m.start() - body.rfind("\n", 0, m.start()) if m else None
        raise PromptError(
            "this looks like a Google Dotprompt file (Handlebars syntax); loomgit "
            "prompts use Jinja2 and 'system:'/'user:' role lines"
            + (f" ({TEMPLATE_NONE_HINT})" if plain else ""),
            path=path,
            line=line,
            col=col,
        )
    if not body.strip():
        raise PromptError(
            "prompt has frontmatter but no body", path=path, line=max(body_line - 1, 1)
        )


def as_mapping(meta: Any, path: str) -> dict[str, Any]:
    """A loaded frontmatter, which must be a mapping (or empty)."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise PromptError(
            f"frontmatter must be a mapping of keys, got {type(meta).__name__}", path=path, line=2
        )
    return meta


def parse_prompt(
    text: str, path: str, *, prompt_id: str | None = None, glob: GlobSpec | None = None
) -> Prompt:
    """Parse prompt text; ``path`` is used in messages and for the default id; ``glob``
    is the entry that matched the file (its role and template options)."""
    if not text.strip():
        raise PromptError("empty prompt file", path=path)
    text = text.replace("\r\n", "\n")
    if is_ghmodels(path):
        gid = prompt_id or default_id(path)
        if problem := id_problem(gid):
            raise PromptError(problem, path=path)
        return parse_ghmodels(text, path, gid)
    fm_text, body, body_line = split_frontmatter(text, path)
    meta: dict[str, Any] = {}
    if fm_text is not None:
        meta = as_mapping(_yaml.load(fm_text, path=path, line_offset=1), path)
    lines = {str(k): (_yaml.line_of(meta, k) or 1) + 1 for k in meta}  # file lines
    role, verbatim = plain_options(fm_text, path, glob)
    if not verbatim:
        check_body(meta, body, body_line, path, lines, is_plain(fm_text, path))
    if path.endswith(".prompty"):
        messages = prompty_body(body, body_line, path)  # Prompty's own role-line rules
    else:
        turns = placeholder_names(meta) if fm_text is not None else frozenset()
        messages = split_messages(body, body_line, path, role, verbatim, turns)
    f = read_fields(meta, path, lines, prompty=path.endswith(".prompty"))
    if f.template == "mustache":
        messages = mustache_messages(messages, path)
    if f.prompty:
        kind = "prompty"
    elif is_plain(fm_text, path):
        kind = "plain"
    else:
        kind = "loomgit"
    pid = meta.get("id") if isinstance(meta.get("id"), str) else None
    final_id = pid or prompt_id or default_id(path)
    problem = id_problem(final_id)
    if problem:
        raise PromptError(problem, path=path, line=lines.get("id"))
    return Prompt(
        id=final_id,
        path=path,
        text=text,
        messages=messages,
        description=f.description,
        model=f.model,
        params=f.params,
        variables=f.variables,
        output=f.output,
        sample=f.sample,
        tags=f.tags,
        meta=_yaml.plain(meta),
        meta_lines=lines,
        kind=kind,
        body_line=body_line,
        tools=f.tools,
    )


__all__ = [
    "ROLE_LINE",
    "as_mapping",
    "check_body",
    "decode",
    "default_id",
    "id_problem",
    "is_plain",
    "message_sources",
    "parse_prompt",
    "parse_variables",
    "plain_options",
    "prompty_model",
    "read_prompt",
    "split_frontmatter",
    "split_messages",
    "strip_ext",
]
