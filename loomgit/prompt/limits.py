"""How much text an operation would build, estimated from its arguments before it runs.

The sandbox (:mod:`loomgit.prompt.jinja`) asks these before ``%``-formatting,
``str.format``, padding, indenting, wrapping, joining, replacing or stringifying a value,
so a width, precision, repeat count or shared reference that would allocate gigabytes is
refused while it is still a number. Each estimate walks at most ``budget`` steps (every
step adds at least one character) and stops as soon as it is over ``budget``.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?[hlL]?"
    r"(?P<type>[diouxXeEfFgGcrsa%])"
)
_DIGITS = re.compile(r"\d+")
_BIG_SPEC = re.compile(r"\d{4}|\*")  # a width or precision of 1,000 or more, or *
_FORMATTER = string.Formatter()
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def text_size(obj: Any, budget: int) -> int:
    """About how long ``str(obj)`` is (a lower bound for containers of plain values),
    without building it; stops counting once over ``budget``."""
    if type(obj) is str:
        return len(obj)
    total = 0
    stack = [obj]
    while stack and total <= budget:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + (2 if v is not obj else 0)
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() * 3 // 10 + 2
        elif isinstance(v, float):
            total += 24
        elif isinstance(v, Mapping):
            total += 2
            for k, x in v.items():
                stack.append(k)
                stack.append(x)
                total += 4
                if total > budget:
                    break
        elif isinstance(v, (list, tuple, set, frozenset, *_VIEWS)):
            total += 2
            for x in v:  # type: ignore[attr-defined]
                stack.append(x)
                total += 2
                if total > budget:
                    break
        else:
            total += 16
    return total


def _number(value: Any, fallback: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return int(fallback)


def _conversion_size(value: Any, width: int, prec: int, kind: str, budget: int) -> int:
    if kind in "eEfFgG%":
        digits = 310 if isinstance(value, float) else text_size(value, budget)
        body = max(prec, 6) + (digits if kind in "fF%" else 8)
    elif kind in "diouxXbcn":
        body = max(prec, text_size(value, budget))
    else:
        body = text_size(value, budget)
        body = min(body, prec) if prec >= 0 else body
    return max(width, body)


def percent_size(fmt: str, args: Any, budget: int) -> int:
    """About how long ``fmt % args`` is: literal text, plus per conversion the larger of
    its width and its value (a precision counts for numbers; ``*`` takes an argument)."""
    mapping = args if isinstance(args, Mapping) else None
    if _BIG_SPEC.search(fmt) is None:  # every width and precision < 1,000: values decide
        values = (
            mapping.values()
            if mapping is not None
            else args
            if isinstance(args, tuple)
            else (args,)
        )
        quick = len(fmt) + fmt.count("%") * 1000 + join_size(values, "", budget)
        if quick <= budget:
            return quick
    items = list(args) if isinstance(args, tuple) else [args]
    total = len(fmt)
    for m in _PERCENT.finditer(fmt):
        if m["type"] == "%":
            continue
        width, prec = m["width"], m["prec"]
        w = _number(items.pop(0), 0) if width == "*" and items else _number(width or 0, 0)
        p = _number(items.pop(0), -1) if prec == "*" and items else _number(prec or -1, 0)
        if m["key"] is not None and mapping is not None:
            value = mapping.get(m["key"])
        else:
            value = items.pop(0) if items else None
        total += _conversion_size(value, abs(w), p, m["type"], budget)
        if total > budget:
            break
    return total


def format_size(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], budget: int) -> int:
    """About how long ``fmt.format(*args, **kwargs)`` is: per field the larger of its
    value and the widths and precisions in its spec (nested ``{:{w}}`` fields resolved)."""
    auto = [0]

    def value(name: str) -> Any:
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head == "":
            auto[0] += 1
            head = str(auto[0] - 1)
        try:
            return args[int(head)] if head.isdigit() else kwargs[head]
        except (IndexError, KeyError):
            return None

    def size(text: str, depth: int) -> tuple[int, str]:
        total, spec_text = 0, []
        try:
            parsed = list(_FORMATTER.parse(text))
        except ValueError:
            return 0, text
        for literal, field, spec, _conv in parsed:
            total += len(literal)
            spec_text.append(literal)
            if field is None:
                continue
            v = value(field)
            spec = spec or ""
            if "{" in spec and depth < 2:
                spec = size(spec, depth + 1)[1]
            widths = [int(d) for d in _DIGITS.findall(spec) if len(d) < 20] or [0]
            if any(len(d) >= 20 for d in _DIGITS.findall(spec)):
                widths.append(budget + 1)
            kind = spec[-1:] if spec[-1:].isalpha() else "s"
            total += max(max(widths), _conversion_size(v, 0, max(widths), kind, budget))
            spec_text.append(str(v)[:40] if isinstance(v, (str, int)) else "")
            if total > budget:
                break
        return total, "".join(spec_text)

    return size(fmt, 0)[0]


def join_size(items: Iterable[Any], sep: str, budget: int) -> int:
    """About how long ``sep.join(map(str, items))`` is."""
    total = 0
    for i, item in enumerate(items):
        total += (len(item) if type(item) is str else text_size(item, budget)) + (
            len(sep) if i else 0
        )
        if total > budget:
            break
    return total


def replace_size(s: str, old: str, new: str, count: int, budget: int) -> int:
    """How long ``s.replace(old, new, count)`` is."""
    hits = s.count(old) if old else len(s) + 1
    if count >= 0:
        hits = min(hits, count)
    return len(s) + hits * (len(new) - len(old))


def indent_size(s: str, width: Any) -> int:
    """About how long the ``indent`` filter's output is (the indent on every line)."""
    unit = len(width) if isinstance(width, str) else _number(width, 0)
    return len(s) + (s.count("\n") + 1) * max(unit, 0)


def wrap_size(s: str, width: Any, wrapstring: Any) -> int:
    """About how long the ``wordwrap`` filter's output is (a wrapstring per line)."""
    lines = len(s.split()) + len(s) // max(_number(width, 1), 1) + 1
    return len(s) + lines * len(str(wrapstring if wrapstring is not None else "\n"))


def translate_size(s: str, table: Any) -> int:
    """Longest ``s.translate(table)`` can be."""
    if not isinstance(table, Mapping):
        return len(s)
    grow = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(s) * max(grow, 1)


_PAD = {"ljust", "rjust", "center", "zfill"}


def method_size(
    name: str, s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], budget: int
) -> int:
    """About how long the result of the string method ``s.name(*args, **kwargs)`` is
    (0 for methods that cannot build more than ``s``)."""
    a = (*args, *kwargs.values())
    if name in _PAD and a:
        return max(len(s), _number(a[0], 0))
    if name == "expandtabs":
        return len(s) + s.count("\t") * max(_number(a[0] if a else 8, 8), 0)
    if name == "format":
        return format_size(s, args, kwargs, budget)
    if name == "format_map" and args and isinstance(args[0], Mapping):
        return format_size(s, (), args[0], budget)
    if name == "join" and args:
        return join_size(args[0], s, budget) if isinstance(args[0], (list, tuple, str)) else 0
    if name == "replace" and len(a) >= 2:
        count = _number(a[2], -1) if len(a) > 2 else -1
        return replace_size(s, str(a[0]), str(a[1]), count, budget)
    if name == "translate" and a:
        return translate_size(s, a[0])
    return 0


def filter_size(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], budget: int) -> int:
    """About how long the output of the Jinja filter ``name`` is, from its arguments."""
    value, rest = (args[0] if args else ""), args[1:]

    def arg(i: int, key: str, default: Any) -> Any:
        return rest[i] if len(rest) > i else kwargs.get(key, default)

    if name == "join" and isinstance(value, (list, tuple)):
        return join_size(value, str(arg(0, "d", "")), budget)
    size = text_size(value, budget)
    text = value if isinstance(value, str) else ""
    if name == "format":
        return percent_size(text, kwargs or rest, budget)
    if name == "center":
        return max(size, _number(arg(0, "width", 80), 0))
    if name == "indent":
        return indent_size(text, arg(0, "width", 4)) if text else size
    if name == "wordwrap":
        return wrap_size(text, arg(0, "width", 79), arg(2, "wrapstring", None))
    if name == "replace" and len(rest) >= 2:
        count = _number(arg(2, "count", None) or -1, -1)
        return replace_size(text or str(value), str(rest[0]), str(rest[1]), count, budget)
    if name == "tojson":
        return size * (1 + max(_number(arg(0, "indent", 0) or 0, 0), 0))
    if name in ("batch", "slice"):
        return _number(arg(0, "linecount" if name == "batch" else "slices", 0), 0)
    return size


# filters whose output can outgrow their input: sized from their arguments first
SIZE_FILTERS = (
    *("center", "indent", "wordwrap", "truncate", "replace", "join", "format", "batch"),
    *("slice", "tojson", "pprint", "string", "e", "escape", "forceescape", "urlencode"),
    *("upper", "lower", "title", "capitalize", "trim", "striptags", "safe", "urlize"),
)
STRINGIFY = frozenset(("string", "e", "escape", "forceescape", "upper", "lower", "title"))
STRINGIFY |= {"capitalize", "trim", "striptags", "safe", "urlize"}


def guard_filter(env: Any, name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """The filter ``f`` refusing, from its arguments, to build a value over the limit of
    ``env`` (the sandbox of :mod:`loomgit.prompt.jinja`)."""
    skip = 1 if getattr(f, "jinja_pass_arg", None) is not None else 0  # env or context
    by_value = name in STRINGIFY  # grows only with its value: a string is already built

    @functools.wraps(f)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if by_value and len(args) > skip and isinstance(args[skip], str):
            return f(*args, **kwargs)
        for a in (*args[skip + 1 :], *kwargs.values()):
            if isinstance(a, int) and not isinstance(a, bool) and a > env.max_chars:
                raise env._too_big(f"a value via the {name} filter")
        if filter_size(name, args[skip:], kwargs, env.max_chars) > env.max_chars:
            raise env._too_big(f"a value via the {name} filter")
        return f(*args, **kwargs)

    return guarded
