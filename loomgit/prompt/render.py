"""Sandboxed Jinja2 rendering: the only module that builds Jinja environments.

Templates come from pull requests, so they render in Jinja2's immutable sandbox with
``StrictUndefined``. The sandbox has no CPU or memory limit of its own; this module adds
them: operators and calls that would build huge values are refused before they run,
output is capped while it streams, and a watchdog ends a render that runs too long.
"""

from __future__ import annotations

import ctypes
import operator
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loomgit.errors import RenderError, SandboxError
from loomgit.prompt.model import Prompt, Variable

IncludeLoader = Callable[[str], "str | None"]
MAX_CHARS = 1_000_000
TIMEOUT_S = 1.0
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


class _Timeout(BaseException):
    """Raised inside the rendering thread by the watchdog (BaseException: not caught by Jinja)."""


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

    class LoomgitSandbox(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        code_generator_class = _Gen
        intercepted_binops = frozenset(["*", "**", "+", "//", "%"])
        max_chars = MAX_CHARS

        def _too_big(self, what: str) -> SandboxError:
            return SandboxError(
                f"template would build {what} larger than the render limit "
                f"of {self.max_chars:,} characters"
            )

        def checked_concat(self, parts: Iterable[Any]) -> str:
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
                return self.checked_concat([left % right])
            return {"//": operator.floordiv, "%": operator.mod}[op](left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(__obj, "__name__", "")
            if name in _SIZE_METHODS or getattr(__obj, "__self__", None) is not None:
                for a in (*args, *kwargs.values()):
                    if isinstance(a, int) and not isinstance(a, bool) and a > __self.max_chars:
                        raise __self._too_big(f"a value via {name}()")
                if (
                    name == "replace"
                    and isinstance(getattr(__obj, "__self__", None), str)
                    and len(args) >= 2
                ):
                    s, old, new = __obj.__self__, str(args[0]), str(args[1])
                    grow = (s.count(old) if old else len(s) + 1) * max(len(new) - len(old), 0)
                    if len(s) + grow > __self.max_chars:
                        raise __self._too_big("a string via replace()")
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

    def load(name: str) -> tuple[str, None, Callable[[], bool]] | None:
        if loader is None:
            return None
        if name.startswith("/") or any(p in ("..", "") for p in name.split("/")):
            return None
        text = loader(name)
        if text is None:
            return None
        return text, None, lambda: loader(name) == text  # recompiled when the file changes

    env = _ENV_CLS(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        loader=FunctionLoader(load),
    )
    env.max_chars = max_chars
    for unsafe in ("lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(unsafe, None)
    for fname in ("center", "indent", "wordwrap", "truncate", "replace", "join", "format"):
        env.filters[fname] = _guard_filter(env, env.filters[fname])
    return env


def _guard_filter(env: Any, f: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(f)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for a in (*args[1:], *kwargs.values()):
            if isinstance(a, int) and not isinstance(a, bool) and a > env.max_chars:
                raise env._too_big("a value via a filter")
        if f.__name__ == "do_replace" and len(args) >= 4:
            s, old, new = str(args[1]), str(args[2]), str(args[3])
            grow = (s.count(old) if old else len(s) + 1) * max(len(new) - len(old), 0)
            if len(s) + grow > env.max_chars:
                raise env._too_big("a string via replace")
        return f(*args, **kwargs)

    return guarded


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


class _Monitor:
    """One daemon thread for the whole process that injects :class:`_Timeout` into a
    rendering thread whose deadline has passed (a timer thread per render costs more than
    the render itself)."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.active: dict[int, list[Any]] = {}  # token -> [deadline, thread id, fired]
        self.thread: threading.Thread | None = None
        self.next_token = 0

    def start(self, seconds: float) -> int:
        with self.cv:
            self.next_token += 1
            token = self.next_token
            self.active[token] = [time.monotonic() + seconds, threading.get_ident(), False]
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="loomgit-render-watchdog", daemon=True
                )
                self.thread.start()
            self.cv.notify()
        return token

    def stop(self, token: int) -> None:
        with self.cv:
            entry = self.active.pop(token, None)
            if entry is not None and entry[2]:  # clear an exception that may still be pending
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[1]), None)

    def _run(self) -> None:
        with self.cv:
            while True:
                now = time.monotonic()
                waits = []
                for entry in self.active.values():
                    if entry[2]:
                        continue
                    if entry[0] <= now:
                        entry[2] = True
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(entry[1]), ctypes.py_object(_Timeout)
                        )
                    else:
                        waits.append(entry[0] - now)
                self.cv.wait(timeout=min(waits) if waits else None)


_MONITOR = _Monitor()


class _Watchdog:
    """Context manager: a render that outlives ``seconds`` gets :class:`_Timeout`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.token = 0

    def __enter__(self) -> _Watchdog:
        self.token = _MONITOR.start(self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        _MONITOR.stop(self.token)


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
    from jinja2.sandbox import SecurityError

    path, first = where
    try:
        tmpl = compile_cached(env, source)
    except TemplateSyntaxError as e:
        raise RenderError(
            f"template syntax error: {e.message}", path=path, line=first + (e.lineno or 1) - 1
        ) from None
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
                raise _Timeout()
            parts.append(chunk)
    except SandboxError as e:
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
    except TemplateSyntaxError as e:
        raise RenderError(
            f"syntax error in {e.name or 'an included file'}: {e.message}", path=path, line=e.lineno
        ) from None
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


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, (list, tuple)),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}


def value_problem(var: Variable, value: Any) -> str | None:
    """Why ``value`` does not fit ``var`` (type or enum), or None."""
    if not _TYPE_CHECKS[var.type](value):
        return f"variable {var.name!r} must be of type {var.type}, got {type(value).__name__}"
    if var.enum is not None and value not in var.enum:
        return (
            f"variable {var.name!r} must be one of {', '.join(map(repr, var.enum))}, got {value!r}"
        )
    return None


def interface(prompt: Prompt, loader: IncludeLoader | None = None) -> dict[str, Variable]:
    """The prompt's variables: declared ones, or (no ``variables:`` block) the names its
    templates use, each required and of any type."""
    if prompt.variables is not None:
        return dict(prompt.variables)
    return {n: Variable(n) for n in sorted(used_variables(prompt, loader))}


def used_variables(prompt: Prompt, loader: IncludeLoader | None = None) -> set[str]:
    """Names the templates (and the files they include) read from the context."""
    from jinja2 import meta
    from jinja2.exceptions import TemplateError

    env = cached_env(loader)
    names: set[str] = set()
    seen: set[str] = set()

    def walk(source: str) -> None:
        try:
            ast = env.parse(source)
        except TemplateError:
            return
        names.update(meta.find_undeclared_variables(ast))
        for ref in meta.find_referenced_templates(ast):
            if isinstance(ref, str) and ref not in seen and loader is not None:
                seen.add(ref)
                try:
                    text = env.loader.get_source(env, ref)[0]
                except TemplateError:
                    continue
                walk(text)

    for m in prompt.messages:
        walk(m.source)
    return names - set(env.globals)


def resolve_variables(
    prompt: Prompt, given: Mapping[str, Any] | None, loader: IncludeLoader | None = None
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
    prompt: Prompt,
    variables: Mapping[str, Any] | None = None,
    *,
    loader: IncludeLoader | None = None,
    max_chars: int = MAX_CHARS,
    timeout_s: float = TIMEOUT_S,
) -> list[dict[str, str]]:
    """Render each message on its own (a value can never open a new message)."""
    values = resolve_variables(prompt, variables, loader)
    env = cached_env(loader, max_chars)
    out = []
    deadline = time.monotonic() + timeout_s
    try:
        with _Watchdog(timeout_s):
            for m in prompt.messages:
                text = render_source(
                    m.source,
                    values,
                    env=env,
                    where=(prompt.path, m.line),
                    max_chars=max_chars,
                    deadline=deadline,
                )
                out.append({"role": m.role, "content": text})
    except _Timeout:
        raise SandboxError(
            f"rendering took longer than {timeout_s:g} s and was stopped (a huge loop?)",
            path=prompt.path,
        ) from None
    total = sum(len(m["content"]) for m in out)
    if total > max_chars:
        raise SandboxError(
            f"rendered output exceeds the limit of {max_chars:,} characters", path=prompt.path
        )
    return out


def syntax_problems(prompt: Prompt, loader: IncludeLoader | None = None) -> list[tuple[int, str]]:
    """(line, message) for each message whose template does not compile."""
    from jinja2 import TemplateSyntaxError

    env = cached_env(loader)
    out = []
    for m in prompt.messages:
        try:
            env.parse(m.source)
        except TemplateSyntaxError as e:
            out.append((m.line + (e.lineno or 1) - 1, f"template syntax error: {e.message}"))
    return out
