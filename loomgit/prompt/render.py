"""Rendering a prompt: its interface (declared or used variables), checking given values
against it, and rendering each message in the sandbox of :mod:`loomgit.prompt.jinja`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from loomgit.errors import LoomgitError, RenderError, SandboxError
from loomgit.prompt import media
from loomgit.prompt.conversation import expand, text_chars, turns_problem
from loomgit.prompt.errpos import TEMPLATE_NONE_HINT
from loomgit.prompt.jinja import (
    MAX_CHARS,
    cached_env,
    included_source,
    parse_names,
    render_source,
    syntax_error,
)
from loomgit.prompt.names import used_names
from loomgit.prompt.parts import (
    IncludeLoader,
    MessageTemplate,
    Renderable,
    Variable,
    include_names,
)
from loomgit.prompt.watchdog import RenderTimeout, Watchdog

TIMEOUT_S = 1.0


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, (list, tuple)),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
    "messages": lambda v: True,  # checked turn by turn below
    "media": lambda v: isinstance(v, str),
}


def value_problem(var: Variable, value: Any) -> str | None:
    """Why ``value`` does not fit ``var`` (type or enum), or None."""
    if var.type == "messages":
        return turns_problem(var.name, value)
    if not _TYPE_CHECKS[var.type](value):
        return f"variable {var.name!r} must be of type {var.type}, got {type(value).__name__}"
    if var.enum is not None and value not in var.enum:
        return (
            f"variable {var.name!r} must be one of {', '.join(map(repr, var.enum))}, got {value!r}"
        )
    return None


def interface(prompt: Renderable, loader: IncludeLoader | None = None) -> dict[str, Variable]:
    """The prompt's variables: declared ones, or (no ``variables:`` block) the names its
    templates use, each required and of any type."""
    if prompt.variables is not None:
        return dict(prompt.variables)
    return {n: Variable(n) for n in sorted(used_variables(prompt, loader))}


def used_variables(prompt: Renderable, loader: IncludeLoader | None = None) -> set[str]:
    """Names the templates (and the files they include) read from the context, learnt
    once per template shape (:mod:`loomgit.prompt.names`): what :func:`parsed_variables`
    gives, without parsing a shape seen before."""
    sources = [m.source for m in prompt.messages if not m.verbatim]
    return set(used_names(sources, loader if loader is not None else _no_include))


def _no_include(name: str) -> None:
    return None


def parsed_variables(prompt: Renderable, loader: IncludeLoader | None = None) -> set[str]:
    """:func:`used_variables` by a full parse of every template (the reference)."""
    env = cached_env(loader)
    names: set[str] = set()
    seen: set[str] = set()

    def walk(source: str) -> None:
        got = parse_names(source, env)
        if got is None:
            return
        names.update(got[0])
        for ref in got[1]:
            if ref not in seen and loader is not None:
                seen.add(ref)
                text = included_source(env, ref)
                if text is not None:
                    walk(text)

    for m in prompt.messages:
        if not m.verbatim:
            walk(m.source)
    return names - set(env.globals)


def resolve_variables(
    prompt: Renderable, given: Mapping[str, Any] | None, loader: IncludeLoader | None = None
) -> dict[str, Any]:
    """Check ``given`` against the interface and fill defaults; all problems in one error."""
    values = dict(prompt.sample or {}) if given is None else dict(given)
    iface = interface(prompt, loader)
    problems = []
    unknown = sorted(set(values) - set(iface))
    if unknown:
        known = ", ".join(sorted(iface)) or "none"
        problems.append(f"unknown variable(s): {', '.join(unknown)} (declared: {known})")
    missing = sorted(n for n, v in iface.items() if v.required and n not in values)
    if missing:
        problems.append(f"missing required variable(s): {', '.join(missing)}")
    for name, var in iface.items():
        if name in values:
            p = value_problem(var, values[name])
            if p:
                problems.append(p)
        elif not var.required:
            values[name] = var.default
    if problems:
        raise RenderError("; ".join(problems), path=prompt.path)
    return values


def render_prompt(
    prompt: Renderable,
    variables: Mapping[str, Any] | None = None,
    *,
    loader: IncludeLoader | None = None,
    max_chars: int = MAX_CHARS,
    timeout_s: float = TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Render each message on its own (a value can never open a new message)."""
    env = cached_env(loader, max_chars)
    # compiled first (and kept): a syntax error is named with its place before the
    # variables its template uses are looked for
    for m in prompt.messages:
        if _templated(m) and (err := syntax_error(m.source, env, m.line)) is not None:
            raise RenderError(
                f"template syntax error: {err[2]}{_hint(prompt)}",
                path=prompt.path,
                line=m.line + err[0] - 1,
                col=err[1],
            )
    values = resolve_variables(prompt, variables, loader)
    if prompt.variables is not None and any(
        v.type in ("media", "messages") for v in prompt.variables.values()
    ):
        for line, name in inline_turns(prompt, loader):
            raise RenderError(inline_problem(name), path=prompt.path, line=line)
        values = _with_media(prompt, values, loader)
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    sink, token = media.start()
    try:
        with Watchdog(timeout_s):
            for m in prompt.messages:
                if m.placeholder is not None:
                    out.extend(expand(values[m.placeholder]))
                    continue
                text = (
                    m.source
                    if m.verbatim
                    else _literal_text(m.source)
                    if not _templated(m) and len(m.source) <= max_chars
                    else render_source(
                        m.source,
                        values,
                        env=env,
                        where=(prompt.path, m.line),
                        max_chars=max_chars,
                        deadline=deadline,
                    )
                )
                out.append({"role": m.role, "content": sink.split(text)})
    except RenderTimeout:
        raise SandboxError(
            f"rendering took longer than {timeout_s:g} s and was stopped (a huge loop?)",
            path=prompt.path,
        ) from None
    finally:
        media.stop(token)
    total = sum(text_chars(m.get("content")) for m in out)
    if total > max_chars:
        raise SandboxError(
            f"rendered output exceeds the limit of {max_chars:,} characters", path=prompt.path
        )
    return out


def _with_media(
    prompt: Renderable, values: dict[str, Any], loader: IncludeLoader | None
) -> dict[str, Any]:
    """``values`` with each ``media`` variable's reference loaded as a part (checked:
    the include rule, size and type)."""
    out = dict(values)
    for name, var in (prompt.variables or {}).items():
        if var.type == "media" and isinstance(out.get(name), str) and out[name]:
            try:
                out[name] = media.load_media("media", out[name], loader)
            except LoomgitError as e:
                raise type(e)(f"variable {name!r}: {e.message}", path=prompt.path) from None
    return out


def inline_turns(prompt: Renderable, loader: IncludeLoader | None = None) -> list[tuple[int, str]]:
    """(line, name) of each ``messages`` variable a message uses in its text rather than
    as a placeholder line of its own."""
    turns = {n for n, v in (prompt.variables or {}).items() if v.type == "messages"}
    out = []
    for m in prompt.messages if turns else ():
        if m.placeholder is None and not m.verbatim and "{" in m.source:
            for name in sorted(turns & used_names([m.source], loader or _no_include)):
                at = next((i for i, ln in enumerate(m.source.split("\n")) if name in ln), 0)
                out.append((m.line + at, name))
    return out


def inline_problem(name: str) -> str:
    return (
        f"variable {name!r} holds messages: put {{{{ {name} }}}} on a line of its own "
        "between messages, where its turns go"
    )


def _templated(m: MessageTemplate) -> bool:
    """Whether a message needs Jinja: not verbatim, and with a ``{`` (every Jinja
    delimiter starts with one) or a carriage return (which Jinja normalises)."""
    return not m.verbatim and ("{" in m.source or "\r" in m.source)


def _literal_text(source: str) -> str:
    """What Jinja renders a source without any of its syntax to: the text, less one
    trailing newline (``keep_trailing_newline`` is off). Not compiled, so a prompt of
    plain prose costs no template compilation."""
    return source[:-1] if source.endswith("\n") else source


def _hint(prompt: Renderable) -> str:
    """How a plain file takes its braces as text, for its syntax errors."""
    return f" ({TEMPLATE_NONE_HINT})" if getattr(prompt, "kind", "") == "plain" else ""


def syntax_problems(
    prompt: Renderable, loader: IncludeLoader | None = None
) -> list[tuple[str, int, int | None, str]]:
    """(file, line, column, message) for each message template, and each file they
    include, that does not compile. A plain file's message says how to take its braces
    as text (``template: none``)."""
    env = None  # made on first use: prose needs no Jinja at all
    hint = _hint(prompt)
    out = []
    todo = [(prompt.path, m.line, m.source, hint) for m in prompt.messages if not m.verbatim]
    seen: set[str] = set()
    while todo and len(seen) < 64:
        path, first, source, why = todo.pop(0)
        if "{" not in source and "\r" not in source:
            continue  # no Jinja syntax at all: nothing to compile, nothing included
        env = env or cached_env(loader)
        err = syntax_error(source, env, first)
        if err is not None:
            out.append((path, first + err[0] - 1, err[1], f"template syntax error: {err[2]}{why}"))
            continue
        for ref in include_names(source) if loader is not None else []:
            text = included_source(env, ref) if ref not in seen else None
            seen.add(ref)
            if text is not None:
                todo.append((ref, 1, text, ""))
    return out


__all__ = [
    "MAX_CHARS",
    "inline_problem",
    "inline_turns",
    "TIMEOUT_S",
    "IncludeLoader",
    "interface",
    "render_prompt",
    "resolve_variables",
    "syntax_problems",
    "used_variables",
    "parsed_variables",
    "value_problem",
]
