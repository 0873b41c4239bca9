"""The portable subset of the template language: what a renderer in any language (the
JavaScript loader in ``clients/js/``) renders exactly as loomgit does.

The subset, decided on the Jinja AST of the one prompt environment
(:func:`loomgit.prompt.jinja.parse_tree`):

- text, and ``{{ expr }}`` where ``expr`` is a variable, dotted access (``user.name``),
  a subscript by a literal or such an expression (``items[0]``, ``items[-1]``,
  ``user["name"]``, ``groups[g]``), a literal (string, number,
  ``true``/``false``/``none``), ``==`` / ``!=`` of two of these, ``and``, ``or``, ``not``
  and parentheses;
- ``{% if %}`` / ``{% elif %}`` / ``{% else %}`` on such expressions;
- ``{% for x in expr %}`` (with ``{% else %}``) and ``loop.index``, ``loop.index0``,
  ``loop.revindex``, ``loop.revindex0``, ``loop.first``, ``loop.last``, ``loop.length``;
- ``{% include "literal/path" %}`` of a portable file: inlined into the template;
- ``{% raw %}``, comments and whitespace control (``{%-``, ``-%}``);
- conversation placeholders and ``template: none`` files.

Anything else (filters, tests, calls such as ``image()``, macros, ``set``, arithmetic,
``~``, inline ``if``, list and dict literals, ``extends``/``import``, ``media``
variables) is named, with its file and line, by :func:`portable_problems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from loomgit.prompt.jinja import cached_env, parse_tree
from loomgit.prompt.parts import IncludeLoader, Renderable

LOOP_ATTRS = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length"})
MAX_DEPTH = 16
SUBSET = "variables, dotted access, if/elif/else with == != and or not, for, include"
# attribute names a mapping answers with a method before a key of that name
_METHODS = frozenset(n for n in dir(dict) if not n.startswith("_"))
_BINOPS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "FloorDiv": "//", "Mod": "%"}
_BINOPS["Pow"] = "**"
_COMPARE = {"lt": "<", "gt": ">", "lteq": "<=", "gteq": ">=", "in": "in", "notin": "not in"}
_NAMED = {
    "Macro": "macro",
    "CallBlock": "call block",
    "Assign": "set",
    "AssignBlock": "set block",
    "Concat": "'~' concatenation",
    "CondExpr": "inline 'if … else'",
    "List": "list literal",
    "Tuple": "tuple",
    "Dict": "dict literal",
    "Slice": "slice",
    "Extends": "extends",
    "Block": "block",
    "Import": "import",
    "FromImport": "from … import",
    "With": "with",
    "FilterBlock": "filter block",
    "ExprStmt": "do",
    "Continue": "continue",
    "Break": "break",
    "ScopedEvalContextModifier": "autoescape",
    "Scope": "autoescape",
    "Neg": "unary '-'",
    "Pos": "unary '+'",
}
_INCLUDE_TAG = re.compile(
    r"""\{%(?P<l>[-+]?)\s*include\s+(?:"(?P<d>[^"\\]*)"|'(?P<s>[^'\\]*)')\s*"""
    r"""(?:with\s+context\s*)?(?P<r>[-+]?)%\}"""
)
# Python's whitespace (str.isspace): what Jinja's whitespace control strips
_WS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
_WS += "".join(chr(c) for c in range(0x2000, 0x200B))
_TAG_END = re.compile(r"-[%}#]\}\Z")


@dataclass(frozen=True)
class Problem:
    """One construct outside the portable subset."""

    path: str
    line: int | None
    construct: str

    @property
    def message(self) -> str:
        return f"not portable: {self.construct} (the portable subset: {SUBSET})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "construct": self.construct}


def _kind(node: Any) -> str:
    return type(node).__name__


def _call_name(node: Any) -> str:
    f = node.node
    if _kind(f) == "Name":
        return f"call of '{f.name}()'"
    if _kind(f) == "Getattr":
        return f"method call '.{f.attr}()'"
    return "call"


class _Walker:
    def __init__(self, loader: IncludeLoader | None, globals_: set[str]) -> None:
        self.loader = loader
        self.globals = globals_
        self.out: list[Problem] = []

    def add(self, path: str, first: int, node: Any, what: str) -> None:
        line = getattr(node, "lineno", None) or 1
        self.out.append(Problem(path, first + line - 1, what))

    def template(self, source: str, path: str, first: int, depth: int) -> None:
        tree = parse_tree(source)
        if tree is None:
            self.out.append(Problem(path, first, "a template that does not compile"))
            return
        self.stmts(tree.body, path, first, depth, 0)
        if len(list(_includes(tree))) != len(list(_INCLUDE_TAG.finditer(source))):
            self.out.append(
                Problem(path, first, "an include written in a way it cannot be inlined")
            )

    def stmts(self, body: list[Any], path: str, first: int, depth: int, loops: int) -> None:
        for node in body:
            k = _kind(node)
            if k == "Output":
                for n in node.nodes:
                    if _kind(n) != "TemplateData":
                        self.expr(n, path, first, loops)
            elif k == "If":
                self.expr(node.test, path, first, loops)
                self.stmts(node.body, path, first, depth, loops)
                for e in node.elif_:
                    self.expr(e.test, path, first, loops)
                    self.stmts(e.body, path, first, depth, loops)
                self.stmts(node.else_, path, first, depth, loops)
            elif k == "For":
                if _kind(node.target) != "Name":
                    self.add(path, first, node, "a for loop over more than one name")
                if node.test is not None:
                    self.add(path, first, node, "a for loop with an 'if' filter")
                if node.recursive:
                    self.add(path, first, node, "a recursive for loop")
                self.expr(node.iter, path, first, loops)
                self.stmts(node.body, path, first, depth, loops + 1)
                self.stmts(node.else_, path, first, depth, loops)
            elif k == "Include":
                self.include(node, path, first, depth)
            else:
                self.add(path, first, node, _NAMED.get(k, f"'{k.lower()}'"))

    def include(self, node: Any, path: str, first: int, depth: int) -> None:
        t = node.template
        if _kind(t) != "Const" or not isinstance(t.value, str):
            self.add(path, first, node, "an include of a name that is not a literal")
            return
        if node.ignore_missing or not node.with_context:
            self.add(path, first, node, "an include with 'ignore missing' or 'without context'")
            return
        text = self.loader(t.value) if self.loader is not None else None
        if text is None:
            self.add(path, first, node, f"an include of {t.value!r}, which is not there")
        elif depth >= MAX_DEPTH:
            self.add(path, first, node, f"includes nested deeper than {MAX_DEPTH}")
        else:
            self.template(text, t.value, 1, depth + 1)  # 'loop' does not reach into it

    def expr(self, node: Any, path: str, first: int, loops: int) -> None:
        k = _kind(node)
        if k == "Name":
            if node.name == "loop":
                self.add(
                    path, first, node, "'loop' on its own" if loops else "'loop' outside a for"
                )
            elif node.name in self.globals:
                self.add(path, first, node, f"the global '{node.name}'")
        elif k == "Const":
            v = node.value
            if not (v is None or isinstance(v, (str, int, float))):
                self.add(path, first, node, "a literal of an unsupported kind")
            elif isinstance(v, float) and v.is_integer():  # JavaScript prints 2.0 as 2
                self.add(path, first, node, f"the whole-number float {v!r} (write {int(v)})")
        elif k == "Getattr":
            inner = node.node
            if _kind(inner) == "Name" and inner.name == "loop" and loops:
                if node.attr not in LOOP_ATTRS:
                    self.add(path, first, node, f"'loop.{node.attr}'")
                return
            if node.attr in _METHODS:
                self.add(
                    path,
                    first,
                    node,
                    f"'.{node.attr}', a Python method name (write ['{node.attr}'])",
                )
            self.expr(inner, path, first, loops)
        elif k == "Getitem":
            arg = node.arg
            if _kind(arg) == "Neg" and _kind(arg.node) == "Const":
                arg = arg.node  # items[-1]
            if _kind(arg) == "Const":
                if isinstance(arg.value, bool) or not isinstance(arg.value, (str, int)):
                    self.add(path, first, node, "a subscript that is not a string or integer")
            else:
                self.expr(arg, path, first, loops)
            self.expr(node.node, path, first, loops)
        elif k in ("And", "Or"):
            self.expr(node.left, path, first, loops)
            self.expr(node.right, path, first, loops)
        elif k == "Not":
            self.expr(node.node, path, first, loops)
        elif k == "Compare":
            ops = node.ops
            bad = [o.op for o in ops if o.op not in ("eq", "ne")]
            if bad:
                self.add(path, first, node, f"the comparison '{_COMPARE.get(bad[0], bad[0])}'")
            elif len(ops) > 1:
                self.add(path, first, node, "a chained comparison")
            self.expr(node.expr, path, first, loops)
            for o in ops:
                self.expr(o.expr, path, first, loops)
        elif k == "Filter":
            self.add(path, first, node, f"the filter '{node.name}'")
        elif k == "Test":
            self.add(path, first, node, f"the test 'is {node.name}'")
        elif k == "Call":
            self.add(path, first, node, _call_name(node))
        elif k in _BINOPS:
            self.add(path, first, node, f"arithmetic '{_BINOPS[k]}'")
        else:
            self.add(path, first, node, _NAMED.get(k, f"'{k.lower()}'"))


def _includes(node: Any) -> Iterator[Any]:
    """The includes :func:`inline_includes` inlines (a literal name, with context)."""
    for child in node.iter_child_nodes():
        if _kind(child) == "Include":
            t = child.template
            if _kind(t) == "Const" and child.with_context and not child.ignore_missing:
                yield child
        yield from _includes(child)


def portable_problems(prompt: Renderable, loader: IncludeLoader | None = None) -> list[Problem]:
    """Each construct of ``prompt`` (and the files it includes) outside the subset."""
    w = _Walker(loader, set(cached_env().globals))
    for name, var in sorted((prompt.variables or {}).items()):
        if var.type == "media":
            w.out.append(Problem(prompt.path, var.line, f"the media variable {name!r}"))
    for m in prompt.messages:
        if m.verbatim or m.placeholder is not None:
            continue
        if "{" in m.source or "\r" in m.source:
            w.template(m.source, prompt.path, m.line, 0)
    return w.out


def _drop_newline(text: str) -> str:
    """What Jinja lexes of a file: newlines as ``\\n``, less one trailing newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:-1] if text.endswith("\n") else text


def inline_includes(source: str, loader: IncludeLoader | None, depth: int = 0) -> str:
    """``source`` with each ``{% include "name" %}`` replaced by the included text, so
    that it renders exactly as the include does (call only on a portable template).

    An include tag is a token boundary: whitespace control on either side of it, or at
    either edge of the included file, reaches no further than it. Where that could
    matter (whitespace or a tag at an edge of the included text, an empty one, ``-`` on
    the tag) the inlined text keeps the boundary as an empty comment: ``{#-#}`` for
    ``{%- include``, ``{# -#}`` for ``-%}``, ``{##}`` otherwise."""
    if depth > MAX_DEPTH or "include" not in source:
        return source
    out: list[str] = []

    def add(piece: str) -> None:
        if not piece:
            return
        if out and out[-1].endswith("{") and piece[0] in "{%#":  # "{" + "%}" is no tag
            out[-1] = out[-1][:-1] + '{{ "{" }}'
        out.append(piece)

    pos = 0
    for m in _INCLUDE_TAG.finditer(source):
        add(source[pos : m.start()])
        name = m.group("d") if m.group("d") is not None else m.group("s") or ""
        text = None if loader is None else loader(name)
        body = _drop_newline(inline_includes(text or "", loader, depth + 1))
        left, right = m.group("l") == "-", m.group("r") == "-"
        if left or not body or body[0] in _WS or body[0] == "{":
            add("{#-#}" if left else "{##}")
        add(body)
        if right or not body or body[-1] in _WS or _TAG_END.search(body):
            add("{# -#}" if right else "{##}")
        pos = m.end()
    add(source[pos:])
    return "".join(out)


def portable_messages(
    prompt: Renderable, loader: IncludeLoader | None = None
) -> list[dict[str, Any]]:
    """The messages as a portable renderer takes them: ``{"role", "template", "line"}``
    with includes inlined, ``{"role", "text"}`` for a ``template: none`` file (taken as
    it is), ``{"role": "placeholder", "variable"}`` for a conversation placeholder."""
    out: list[dict[str, Any]] = []
    for m in prompt.messages:
        if m.placeholder is not None:
            out.append({"role": "placeholder", "variable": m.placeholder})
        elif m.verbatim:
            out.append({"role": m.role, "text": m.source})
        else:
            tmpl = inline_includes(m.source, loader) if "{" in m.source else m.source
            out.append({"role": m.role, "template": tmpl, "line": m.line})
    return out
