"""The one Jinja2 environment prompts render in (sandboxed), the template parsing other
modules need (:mod:`~loomgit.prompt.undeclared` reads its trees), an HTML one for reports.

Templates come from pull requests, so they render in Jinja2's immutable sandbox with
``StrictUndefined``. The sandbox has no CPU or memory limit of its own; this module adds
them: operators and calls that would build huge values are refused before they run,
output is capped while it streams (:mod:`loomgit.prompt.watchdog` ends a render that runs
too long).
"""

from __future__ import annotations

import operator
import os
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loomgit.errors import IncludeRefused, RenderError, SandboxError
from loomgit.prompt import media
from loomgit.prompt.errpos import syntax_place, syntax_render_error, unknown_name
from loomgit.prompt.limits import (
    SIZE_FILTERS,
    guard_filter,
    join_size,
    method_size,
    percent_size,
    text_size,
)
from loomgit.prompt.parts import IncludeLoader
from loomgit.prompt.undeclared import undeclared
from loomgit.prompt.watchdog import RenderTimeout

MAX_CHARS = 1_000_000
_SIZE_METHODS = {
    "ljust",
    "rjust",
    "center",
    "zfill",
    "expandtabs",
    "format",
    "join",
    "replace",
    "split",
    "rsplit",
    "splitlines",
    "encode",
    "format_map",
}


def _env_class() -> type:
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Gen(CodeGenerator):  # route ``~`` through a size check
        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.checked_concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class LoomgitSandbox(ImmutableSandboxedEnvironment):
        code_generator_class = _Gen
        intercepted_binops = frozenset(["*", "**", "+", "//", "%"])
        max_chars = MAX_CHARS

        def _too_big(self, what: str) -> SandboxError:
            return SandboxError(
                f"template would build {what} larger than the render limit "
                f"of {self.max_chars:,} characters"
            )

        def checked_concat(self, parts: Iterable[Any]) -> str:
            parts = tuple(parts)
            if join_size(parts, "", self.max_chars) > self.max_chars:
                raise self._too_big("a string")
            out = "".join(map(str, parts))
            if len(out) > self.max_chars:
                raise self._too_big("a string")
            return out

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "**":
                if (
                    isinstance(left, int)
                    and isinstance(right, int)
                    and abs(left) > 1
                    and left.bit_length() * right > 100_000
                ):
                    raise SandboxError("number too large in template (power)")
                return operator.pow(left, right)
            if op == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple, bytes)) and isinstance(n, int):
                        if len(seq) * n > self.max_chars:
                            raise self._too_big("a repeated value")
                return operator.mul(left, right)
            if op == "+":
                if isinstance(left, (str, list, tuple)) and isinstance(right, type(left)):
                    if len(left) + len(right) > self.max_chars:
                        raise self._too_big("a value")
                return operator.add(left, right)
            if op == "%" and isinstance(left, str):
                if percent_size(left, right, self.max_chars) > self.max_chars:
                    raise self._too_big("a string via %-formatting")
                out = left % right
                if len(out) > self.max_chars:
                    raise self._too_big("a string via %-formatting")
                return out
            return {"//": operator.floordiv, "%": operator.mod}[op](left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(__obj, "__name__", "")
            if name in _SIZE_METHODS or getattr(__obj, "__self__", None) is not None:
                for a in (*args, *kwargs.values()):
                    if isinstance(a, int) and not isinstance(a, bool) and a > __self.max_chars:
                        raise __self._too_big(f"a value via {name}()")
                s = getattr(__obj, "__self__", None)  # the sandbox wraps str.format:
                s = getattr(getattr(__obj, "__wrapped__", None), "__self__", s)  # unwrap
                if isinstance(s, str) and method_size(name, s, args, kwargs, __self.max_chars) > (
                    __self.max_chars
                ):
                    raise __self._too_big(f"a string via {name}()")
            result = super().call(__context, __obj, *args, **kwargs)
            if isinstance(result, (str, list, tuple)) and len(result) > __self.max_chars:
                raise __self._too_big("a value")
            return result

    return LoomgitSandbox


_ENV_CLS: type | None = None
_ENVS: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
_PLAIN_ENVS: dict[int, Any] = {}


def cached_env(loader: IncludeLoader | None = None, max_chars: int = MAX_CHARS) -> Any:
    """The environment for ``loader`` (kept while the loader lives), so compiled templates
    are reused across renders."""
    try:
        per = _PLAIN_ENVS if loader is None else _ENVS.setdefault(loader, {})
    except TypeError:  # a loader that cannot be weakly referenced
        return make_env(loader, max_chars)
    env = per.get(max_chars)
    if env is None:
        env = per[max_chars] = make_env(loader, max_chars)
    return env


def compile_cached(env: Any, source: str) -> Any:
    """``env.from_string(source)``, compiled once per environment."""
    cache = env.__dict__.setdefault("_loomgit_compiled", {})
    tmpl = cache.get(source)
    if tmpl is None:
        if len(cache) > 512:
            cache.clear()
        tmpl = cache[source] = env.from_string(source)
    return tmpl


def make_env(loader: IncludeLoader | None = None, max_chars: int = MAX_CHARS) -> Any:
    """A fresh sandboxed environment; ``loader(name)`` returns an included file's text."""
    global _ENV_CLS
    from jinja2 import FunctionLoader, StrictUndefined

    if _ENV_CLS is None:
        _ENV_CLS = _env_class()

    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        if loader is None:
            return None
        text = loader(name)  # the loader applies the include rule (prompt.includes)
        if text is None:
            return None
        return text, name, lambda: loader(name) == text  # recompiled when the file changes

    env = _ENV_CLS(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        loader=FunctionLoader(load),
    )
    env.max_chars = max_chars
    for unsafe in ("lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(unsafe, None)
    for fname in SIZE_FILTERS:
        if fname in env.filters:
            env.filters[fname] = guard_filter(env, fname, env.filters[fname])
    env.globals.update(media.functions(loader))  # image(...), document(...): content parts

    def finalize(value: Any) -> Any:  # ``{{ value }}``: measured before str() builds it
        if isinstance(value, media.Media):
            return media.as_part(value)
        if not isinstance(value, str) and text_size(value, env.max_chars) > env.max_chars:
            raise env._too_big("a value")
        return value

    env.finalize = finalize
    return env


def template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """(template name, line) of the innermost template frame in ``exc``'s traceback."""
    name, line = None, None
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname == "<template>" or tb.tb_frame.f_globals.get("__jinja_template__") is not None:
            name, line = fname, tb.tb_lineno
        tb = tb.tb_next
    return name, line


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """(name, line) of the innermost frame of a template: the message's own
    (``<template>``) or an included file's (named by its repository path)."""
    name, line = None, None
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname == "<template>" or not (fname.startswith("<") or fname.endswith(".py")):
            name, line = fname, tb.tb_lineno
        tb = tb.tb_next
    return name, line


def render_source(
    source: str,
    context: Mapping[str, Any],
    *,
    env: Any,
    where: tuple[str, int],
    max_chars: int = MAX_CHARS,
    deadline: float | None = None,
) -> str:
    """Render one message template. ``where`` is (file, first line) for error messages."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    path, first = where
    try:
        tmpl = compile_cached(env, source)
    except TemplateSyntaxError as e:
        raise syntax_render_error(e.message or "", e.lineno, source, path, first) from None
    parts: list[str] = []
    size = 0
    try:
        for chunk in tmpl.generate(**context):
            size += len(chunk)
            if size > max_chars:
                raise SandboxError(
                    f"rendered output exceeds the limit of {max_chars:,} characters",
                    path=path,
                    line=first,
                )
            if deadline is not None and time.monotonic() > deadline:
                raise RenderTimeout()
            parts.append(chunk)
    except IncludeRefused as e:
        inner, ln = _template_frame(e)
        if inner and inner != "<template>":
            e.path, e.line = inner, ln
        else:
            e.path, e.line = path, first + (ln or 1) - 1
        raise
    except RenderError as e:  # the sandbox's limits; image() and document()
        if e.path is None:
            _, ln = template_line(e)
            e.path, e.line = path, first + (ln or 1) - 1
        raise
    except SecurityError as e:
        _, ln = template_line(e)
        raise SandboxError(
            f"refused by the sandbox: {e}", path=path, line=first + (ln or 1) - 1
        ) from None
    except UndefinedError as e:
        _, ln = template_line(e)
        raise RenderError(
            f"undefined: {e.message}", path=path, line=first + (ln or 1) - 1
        ) from None
    except TemplateNotFound as e:
        raise RenderError(
            f"included file {e.name!r} not found in the repository", path=path, line=first
        ) from None
    except TemplateSyntaxError as e:  # in an included file, named by its repository path
        inc = e.filename or e.name
        text = (e.source if isinstance(e.source, str) else None) or included_source(env, inc or "")
        raise syntax_render_error(e.message or "", e.lineno, text or "", inc or path) from None
    except TemplateError as e:
        _, ln = template_line(e)
        raise RenderError(f"template error: {e}", path=path, line=first + (ln or 1) - 1) from None
    except (RecursionError, MemoryError) as e:
        raise SandboxError(
            f"template is too deeply nested or too large ({type(e).__name__})",
            path=path,
            line=first,
        ) from None
    except (
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        AttributeError,
        OverflowError,
    ) as e:
        _, ln = template_line(e)
        raise RenderError(
            f"template error: {type(e).__name__}: {e}", path=path, line=first + (ln or 1) - 1
        ) from None
    return "".join(parts)


PARSES = [0]  # templates parse_names has parsed in this process


def parse_names(source: str, env: Any | None = None) -> tuple[set[str], list[str]] | None:
    """(undeclared variable names, literal names of referenced templates) of a template
    source, or None when it does not compile. ``env``: default a plain sandboxed one."""
    from jinja2 import meta
    from jinja2.exceptions import TemplateError

    env = env if env is not None else cached_env()
    PARSES[0] += 1
    try:
        ast = env.parse(source)
        names = undeclared(ast)  # an unknown filter fails here, as the compiler fails
    except TemplateError:
        return None
    refs = [r for r in meta.find_referenced_templates(ast) if isinstance(r, str)]
    return names, refs


def parse_tree(source: str) -> Any | None:
    """The Jinja AST of ``source`` in the prompt environment (None when it does not
    compile), for walkers that name constructs (:mod:`loomgit.prompt.portable`)."""
    from jinja2.exceptions import TemplateError

    try:
        return cached_env().parse(source)
    except TemplateError:
        return None


def included_source(env: Any, name: str) -> str | None:
    """The text of an included template as ``env``'s loader finds it, or None."""
    from jinja2.exceptions import TemplateError

    try:
        return env.loader.get_source(env, name)[0]  # type: ignore[no-any-return]
    except (TemplateError, IncludeRefused):
        return None  # a refused include is reported, with its line, where it renders


def referenced_templates(source: str) -> list[str]:
    """Names a template includes/imports literally ([] when it does not compile)."""
    got = parse_names(source)
    return got[1] if got is not None else []


def syntax_error(
    source: str, env: Any = None, first: int = 1
) -> tuple[int, int | None, str] | None:
    """(line, column, message) in ``source`` (line ``first`` of its file) when the template
    does not compile: a syntax error, or a filter or test the environment lacks."""
    from jinja2 import TemplateSyntaxError

    env = env if env is not None else cached_env()
    seen = env.__dict__.setdefault("_loomgit_syntax", {})  # once per source and environment
    if (key := (source, first)) in seen:
        return seen[key]  # type: ignore[no-any-return]
    try:
        got = unknown_name(source, env.parse(source), env, first)
    except TemplateSyntaxError as e:
        got = syntax_place(source, e.message or "syntax error", e.lineno, first)
    if len(seen) > 512:
        seen.clear()
    seen[key] = got
    return got


def html_environment(
    templates: Mapping[str, str] | None = None, *, folder: str | os.PathLike[str] | None = None
) -> Any:
    """An autoescaping environment for HTML reports (loomgit's own templates, not the
    user's): from ``folder``, or ``templates`` mapping names to sources. Block tags leave
    no blank lines behind (``trim_blocks``, ``lstrip_blocks``)."""
    from jinja2 import DictLoader, Environment, FileSystemLoader, StrictUndefined

    loader = FileSystemLoader(folder) if folder is not None else DictLoader(dict(templates or {}))
    return Environment(
        loader=loader,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
