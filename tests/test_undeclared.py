"""The names a template reads, found from its tree alone, are jinja2.meta's: the same set,
and the same compile errors, on generated templates and on every prompt in the corpus."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from conftest import CORPUS
from jinja2 import meta
from jinja2.exceptions import TemplateError
from test_history_names import TEMPLATES

from loomgit.prompt import undeclared as walker
from loomgit.prompt.jinja import cached_env, parse_names

NAMES = ["x", "y", "a", "loop", "caller", "self", "super", "varargs", "kwargs", "range", "ns"]
# a small grammar: <e> is a sub-expression, <b> a body of statements, <name> one of CHOICES
CHOICES = {
    "v": NAMES,
    "filter": ["upper", "default(y)", "join(', ')", "length", "nosuch", "map(attribute='n')"],
    "attr": ["n", "index", "cycle(1, 2)"],
    "test": ["defined", "odd", "nosuchtest"],
    "callee": ["m", "caller", "loop", "super", "self.b"],
    "m": ["m", "t"],
    "args": ["", "p", "p, q=1", "x", "caller=none", "kwargs", "a, varargs"],
    "blockfilter": ["upper", "nosuch", "trim"],
    "block": ["b", "c"],
    "for_test": ["", "", " if <e>"],
    "recursive": ["", "", "", "", "", " recursive"],
    "for_else": ["", "", "{% else %}<b>"],
    "scoped": ["", "", " scoped"],
}
EXPRS = [  # (form, weight)
    ("<e>|<filter>", 15),
    ("<e> if <e> else <e>", 10),
    ("<e>.<attr>", 10),
    ("<e> is <test>", 8),
    ("<callee>(<e>)", 8),
    ("[<e>, <e>]", 7),
    ("namespace(v=<e>)", 7),
]
STATEMENTS = [
    ("{% if <e> %}<b>{% elif <e> %}<b>{% else %}<b>{% endif %}", 10),
    ("{% for <v> in <e><for_test><recursive> %}<b><for_else>{% endfor %}", 10),
    ("{% set <v> = <e> %}", 8),
    ("{% set <v> %}<b>{% endset %}", 5),
    ("{% with <v> = <e> %}<b>{% endwith %}", 5),
    ("{% macro <m>(<args>) %}<b>{% endmacro %}", 6),
    ("{% call <m>(<e>) %}<b>{% endcall %}", 5),
    ("{% filter <blockfilter> %}<b>{% endfilter %}", 4),
    ("{% block <block><scoped> %}<b>{% endblock %}", 5),
    ("{% include 'i.md' %}", 3),
    ("{% import 'i.md' as mm %}{{ mm.f(x) }}", 2),
    ("{% from 'i.md' import f as g %}{{ g(y) }}", 2),
    ("{% set ns.v = <e> %}", 3),
    ("{% extends 'base.md' %}", 2),
]


def _fill(r: random.Random, form: str, d: int) -> str:
    def one(m: re.Match[str]) -> str:
        k = m.group(1)
        if k == "e":
            return _expr(r, d + 1)
        if k == "b":
            return _body(r, d + 1)
        return _fill(r, r.choice(CHOICES[k]), d)

    return re.sub(r"<(\w+)>", one, form)


def _pick(r: random.Random, forms: list[tuple[str, int]]) -> str:
    return r.choices([f for f, _ in forms], [w for _, w in forms])[0]


def _expr(r: random.Random, d: int = 0) -> str:
    if d > 2 or r.random() < 0.35:
        return r.choice(NAMES)
    return _fill(r, _pick(r, EXPRS), d)


def _stmt(r: random.Random, d: int) -> str:
    if d > 3 or r.random() < 0.3:
        return "{{ " + _expr(r) + " }} "
    return _fill(r, _pick(r, STATEMENTS), d)


def _body(r: random.Random, d: int, n: int | None = None) -> str:
    return "".join(_stmt(r, d) for _ in range(r.randint(0, 3) if n is None else n))


def _answer(find: Any, ast: Any) -> tuple[str, Any]:
    """The names ``find`` gives for ``ast``, or the compile error it raises."""
    try:
        return "names", set(find(ast))
    except TemplateError as e:
        return "error", f"{type(e).__name__}: {e}"


def _same(ast: Any) -> bool:
    return _answer(walker.undeclared, ast) == _answer(meta.find_undeclared_variables, ast)


def test_generated_templates_read_the_names_jinja2_meta_finds() -> None:
    env, r = cached_env(), random.Random(20261207)
    compared = walked = 0
    for _ in range(3000):
        source = _body(r, 0, r.randint(1, 5))
        try:
            ast = env.parse(source)
        except TemplateError:
            continue
        assert _same(ast), source
        compared += 1
        try:
            walker._Walker(env).template(ast)
            walked += 1
        except walker._Refused:
            pass
    assert compared > 1200 and walked > 700  # most of them without jinja2.meta


def test_corpus_and_realistic_prompts_read_the_names_jinja2_meta_finds() -> None:
    env, seen = cached_env(), 0
    texts = [(str(i), t) for i, t in enumerate(TEMPLATES)]  # the history tests' templates
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix in (".prompt", ".md", ".txt", ".j2", ".jinja"):
            texts.append((str(path), path.read_bytes().decode("utf-8", "replace")))
    for where, text in texts:
        try:
            ast = env.parse(text)
        except (TemplateError, RecursionError):
            continue
        assert _same(ast), where
        seen += 1
    assert seen > 20 + len(TEMPLATES) // 2


@pytest.mark.parametrize(
    "source, names",
    [
        ("{% for t in tickets if t.open %}{{ loop.index }} {{ t }}{% endfor %}", {"tickets"}),
        ("{% macro row(r) %}{{ caller() }} {{ r }} {{ sep }}{% endmacro %}", {"sep"}),
        ("{% set n = 1 %}{% with m = n %}{{ m }} {{ k }}{% endwith %}", {"k"}),
        (
            "{% block b %}{{ self.c() }} {{ who }}{% endblock %}{% block c %}x{% endblock %}",
            {"who"},
        ),
    ],
)
def test_parse_names_needs_no_code_generator(
    source: str, names: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def generated(*a: Any) -> Any:
        raise AssertionError("code generation")

    monkeypatch.setattr(meta, "find_undeclared_variables", generated)
    got = parse_names(source)
    assert got is not None and got[0] == names
