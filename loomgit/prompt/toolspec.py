"""``tools:`` in frontmatter: parsing the entries, resolving ``$ref`` files, checking them.

An entry is a tool written inline (``{name, description, parameters}``, or OpenAI's
``{type: function, function: {...}}``) or ``{$ref: path}``: a repository path to a JSON or
YAML file holding one tool or a list of them. A ``$ref`` is read like an include (a
regular file git tracks under the include roots, never ``..``, ``.git/`` or a symlink),
through the same loader, so history hashes the file into the prompt's content hash and a
change to a shared tool file gives every prompt that uses it a new version.

Parsing (no loader) leaves a ``$ref`` as a pending :class:`Tool` (``ref`` set, no name);
:func:`resolve_tools` replaces it with the tools of the file. Prompty's own ``tools:``
are mapped by :mod:`loomgit.prompt.prompty_tools`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import loomgit._yaml as _yaml
from loomgit.config import closest
from loomgit.errors import IncludeRefused, LoomgitError, PromptError
from loomgit.prompt.tools import Tool

if TYPE_CHECKING:
    from loomgit.prompt.model import Prompt

TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")  # what every provider accepts
TOOL_KEYS = ("name", "description", "parameters")
REF = "$ref"
FILE_SUFFIXES = (".json", ".yaml", ".yml")
TOOL_CHOICES = ("auto", "none", "required")
MAX_TOOLS = 128
MAX_FILE_CHARS = 1_000_000  # as a prompt file
Loader = Callable[[str], "str | None"]
_EMPTY_PARAMS: dict[str, Any] = {"type": "object", "properties": {}}


def _err(msg: str, path: str, line: int | None) -> PromptError:
    return PromptError(msg, path=path, line=line)


def item_line(raw: Any, i: int, base: int | None, offset: int) -> int | None:
    got = _yaml.line_of(raw, i)
    return got + offset if got is not None else base


def tool_from(
    item: Any, path: str, line: int | None, *, ref: str | None = None, where: str = "tools"
) -> Tool:
    """One tool from its mapping (loomgit's shape or OpenAI's); raises at ``line``."""
    pre = f"{where}: " if where else ""
    if not isinstance(item, dict):
        raise _err(f"{pre}a tool must be a mapping {{name, description, parameters}}", path, line)
    if item.get("type") == "function" and isinstance(item.get("function"), dict):
        extra = sorted(str(k) for k in item if k not in ("type", "function"))
        if extra:
            raise _err(f"{pre}unknown key {extra[0]!r} beside 'function'", path, line)
        item = item["function"]
    unknown = [str(k) for k in item if k not in TOOL_KEYS]
    if unknown:
        close = closest(unknown[0], TOOL_KEYS)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise _err(
            f"{pre}unknown tool key {unknown[0]!r}{hint}; known: {', '.join(TOOL_KEYS)}",
            path,
            line,
        )
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _err(f"{pre}a tool needs a 'name'", path, line)
    if not TOOL_NAME.match(name):
        raise _err(
            f"{pre}tool name {name!r} must start with a letter or '_' and use only "
            "letters, digits, '_' and '-' (at most 64)",
            path,
            line,
        )
    desc = item.get("description", "")
    if not isinstance(desc, str):
        raise _err(f'tool "{name}": description must be text', path, line)
    params = item.get("parameters", _EMPTY_PARAMS)
    if not isinstance(params, dict):
        raise _err(f'tool "{name}": parameters must be a JSON Schema mapping', path, line)
    return Tool(name, desc, _yaml.plain(params), ref, line)


def parse_tools(raw: Any, path: str, line: int | None, *, offset: int = 1) -> tuple[Tool, ...]:
    """The entries of a ``tools:`` block; ``$ref`` entries stay pending. ``offset``: what
    turns a line of the frontmatter document into a line of the file."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _err("tools must be a list of tools (or of {$ref: path})", path, line)
    if len(raw) > MAX_TOOLS:
        raise _err(f"tools: more than {MAX_TOOLS} tools", path, line)
    out: list[Tool] = []
    for i, item in enumerate(raw):
        at = item_line(raw, i, line, offset)
        if isinstance(item, dict) and REF in item:
            target = item[REF]
            if len(item) != 1:
                other = next(str(k) for k in item if k != REF)
                raise _err(f"tools: {REF} stands alone in its entry (found {other!r})", path, at)
            if not isinstance(target, str) or not target:
                raise _err(f"tools: {REF} must be a repository path such as tools/x.json", path, at)
            out.append(Tool("", ref=target, line=at))
            continue
        out.append(tool_from(item, path, at))
    check_unique(out, path)
    return tuple(out)


def check_unique(tools: list[Tool], path: str) -> None:
    seen: set[str] = set()
    for t in tools:
        if t.pending:
            continue
        if t.name in seen:
            src = f" (from {t.ref})" if t.ref else ""
            raise _err(f'tools: tool "{t.name}"{src} is declared twice', path, t.line)
        seen.add(t.name)


_parsed: dict[tuple[str, str], tuple[Tool, ...] | LoomgitError] = {}


def file_tools(name: str, text: str) -> tuple[Tool, ...]:
    """The tools a tool file's text holds (one tool or a list); errors name the file."""
    key = (name, text)
    got = _parsed.get(key)
    if got is None:
        try:
            data = _read_file(name, text)
            items = data if isinstance(data, list) else [data]
            if not items:
                raise _err("a tool file must hold a tool or a list of tools", name, None)
            got = tuple(tool_from(item, name, None, ref=name, where="") for item in items)
        except LoomgitError as e:
            got = e
        if len(_parsed) > 2_000:
            _parsed.clear()
        _parsed[key] = got
    if isinstance(got, LoomgitError):
        raise got
    return got


def _read_file(name: str, text: str) -> Any:
    if len(text) > MAX_FILE_CHARS:
        raise _err(f"tool file is larger than {MAX_FILE_CHARS:,} characters", name, None)
    if not name.endswith(".json"):
        return _yaml.plain(_yaml.load(text, path=name))
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PromptError(f"invalid JSON: {e.msg}", path=name, line=e.lineno, col=e.colno) from None
    except RecursionError:
        data = _DEEP
    if data is _DEEP or _too_deep(data, _yaml.LIMITS.max_depth):
        raise _err(f"JSON nests deeper than {_yaml.LIMITS.max_depth} levels", name, None)
    return data


_DEEP = object()


def _too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests deeper than ``limit`` (as YAML documents may not)."""
    todo = [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            todo.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return False


def load_ref(name: str, loader: Loader | None, path: str, line: int | None) -> str:
    """The text of the tool file ``name``, through the include ``loader``."""
    if not name.endswith(FILE_SUFFIXES):
        raise _err(f"tools: {REF} {name!r} must name a .json, .yaml or .yml file", path, line)
    if loader is None:
        raise _err(f"tools: {REF} {name!r} cannot be read here (no repository)", path, line)
    try:
        text = loader(name)
    except IncludeRefused as e:
        msg = e.message.replace(f'include "{name}"', f'tool file "{name}"', 1)
        raise IncludeRefused(
            msg.replace("can be included", "can be read"), path=path, line=line
        ) from None
    if text is None:
        raise _err(f"tool file '{name}' not found in the repository", path, line)
    return text


def ref_names(tools: tuple[Tool, ...]) -> list[str]:
    """The tool files the entries name, in order, once each."""
    return list(dict.fromkeys(t.ref for t in tools if t.ref))


def resolve(
    tools: tuple[Tool, ...], loader: Loader | None, path: str
) -> tuple[tuple[Tool, ...], dict[str, str]]:
    """(the tools with every ``$ref`` replaced by its file's tools, path -> file text)."""
    if not any(t.pending for t in tools):
        return tools, {}
    out: list[Tool] = []
    texts: dict[str, str] = {}
    for t in tools:
        if not t.pending:
            out.append(t)
            continue
        assert t.ref is not None
        text = load_ref(t.ref, loader, path, t.line)
        texts[t.ref] = text
        try:
            got = file_tools(t.ref, text)
        except PromptError as e:
            if e.line is None:  # a problem of the whole file: named where it is used
                raise _err(f"tool file '{t.ref}': {e.message}", path, t.line) from None
            raise
        out.extend(dataclasses.replace(x, line=t.line) for x in got)
    if len(out) > MAX_TOOLS:
        raise _err(f"tools: more than {MAX_TOOLS} tools", path, tools[0].line)
    check_unique(out, path)
    return tuple(out), texts


def resolve_tools(prompt: Prompt, loader: Loader | None) -> Prompt:
    """``prompt`` with its ``$ref`` tools read through ``loader`` (itself when it has none)."""
    if not any(t.pending for t in prompt.tools):
        return prompt
    tools, _ = resolve(prompt.tools, loader, prompt.path)
    return dataclasses.replace(prompt, tools=tools)


# --- check -------------------------------------------------------------------------------


def tool_problems(
    prompt: Prompt, loader: Loader | None, schema_error: Callable[[Any], Any]
) -> list[tuple[str, int | None, str]]:
    """(file, line, message) for each problem ``check`` reports about the tools and
    ``tool_choice``: a ``$ref`` that cannot be read, parameters that are not a JSON Schema
    (or not an object schema, which every provider requires), a ``tool_choice`` naming no
    declared tool."""
    path = prompt.path
    try:
        tools, _ = resolve(prompt.tools, loader, path)
    except LoomgitError as e:
        return [(e.path or path, e.line, e.message)]
    out: list[tuple[str, int | None, str]] = []
    for t in tools:
        label = f'tool "{t.name}"' + (f" ({t.ref})" if t.ref else "")
        err = schema_error(t.parameters)
        if err is not None:
            message, where = err
            at = f" (at {where})" if where else ""
            out.append(
                (path, t.line, f"{label}: parameters are not valid JSON Schema: {message}{at}")
            )
        elif t.parameters.get("type") != "object":
            out.append(
                (path, t.line, f"{label}: parameters must be an object schema (type: object)")
            )
    line = prompt.meta_lines.get("params")
    params_tools = prompt.params.get("tools")
    if params_tools is not None and tools:
        out.append((path, line, "params.tools and tools: are both set; params.tools is sent"))
    if "tool_choice" in prompt.params:
        names = [t.name for t in tools] + _names_in(params_tools)
        problem = choice_problem(prompt.params["tool_choice"], names)
        if problem:
            out.append((path, line, problem))
    return out


def _names_in(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    out = []
    for t in raw:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.append(fn["name"])
    return out


def choice_problem(choice: Any, names: list[str]) -> str | None:
    """Why ``params.tool_choice`` does not fit the declared tools, or None."""
    if not names:
        return "params.tool_choice is set but the prompt declares no tools"
    if isinstance(choice, str):
        if choice in TOOL_CHOICES:
            return None
        hint = (
            f'; to force one tool write {{type: function, function: {{name: "{choice}"}}}}'
            if choice in names
            else ""
        )
        return (
            f"params.tool_choice must be {', '.join(TOOL_CHOICES)} or a tool, got {choice!r}{hint}"
        )
    fn = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or choice.get("type") != "function" or not isinstance(fn, dict):
        return "params.tool_choice must be auto, none, required or {type: function, function: {name: ...}}"
    name = fn.get("name")
    if name not in names:
        close = closest(name, names)
        hint = f" (did you mean {close!r}?)" if close else ""
        return f"params.tool_choice names tool {name!r}, which the prompt does not declare{hint}"
    return None
