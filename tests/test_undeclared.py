"""The names a template reads, found from its tree alone, are jinja2.meta's: the same set,
and the same compile errors, on generated templates and on every prompt in the corpus."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import CORPUS
from jinja2 import meta
from jinja2.exceptions import TemplateError
from test_history_names import TEMPLATES

from loomgit.prompt import undeclared as walker
from loomgit.prompt.jinja import cached_env, parse_names

NAMES = ["x", "y", "a", "loop", "caller", "self", "super", "varargs", "kwargs", "range", "ns"]
FILTERS = ["upper", "default(y)", "join(', ')", "length", "nosuch", "map(attribute='n')"]


def _expr(r: random.Random, d: int = 0) -> str:
    c = r.random()
    if d > 2 or c < 0.35:
        return r.choice(NAMES)
    if c < 0.5:
        return f"{_expr(r, d + 1)}|{r.choice(FILTERS)}"
    if c < 0.6:
        return f"{_expr(r, d + 1)} if {_expr(r, d + 1)} else {_expr(r, d + 1)}"
    if c < 0.7:
        return f"{_expr(r, d + 1)}.{r.choice(['n', 'index', 'cycle(1, 2)'])}"
    if c < 0.78:
        return f"{_expr(r, d + 1)} is {r.choice(['defined', 'odd', 'nosuchtest'])}"
    if c < 0.86:
        return f"{r.choice(['m', 'caller', 'loop', 'super', 'self.b'])}({_expr(r, d + 1)})"
    if c < 0.93:
        return f"[{_expr(r, d + 1)}, {_expr(r, d + 1)}]"
    return f"namespace(v={_expr(r, d + 1)})"


def _body(r: random.Random, d: int, n: int | None = None) -> str:
    return "".join(_stmt(r, d) for _ in range(r.randint(0, 3) if n is None else n))


def _stmt(r: random.Random, d: int) -> str:  # noqa: C901 - one grammar, one place
    c, v, e, b = r.random(), r.choice(NAMES), _expr(r), lambda: _body(r, d + 1)
    if d > 3 or c < 0.3:
        return "{{ " + e + " }} "
    if c < 0.4:
        return f"{{% if {e} %}}{b()}{{% elif {_expr(r)} %}}{b()}{{% else %}}{b()}{{% endif %}}"
    if c < 0.5:
        test = f" if {_expr(r)}" if r.random() < 0.3 else ""
        rec = " recursive" if r.random() < 0.15 else ""
        other = f"{{% else %}}{b()}" if r.random() < 0.3 else ""
        return f"{{% for {v} in {e}{test}{rec} %}}{b()}{other}{{% endfor %}}"
    if c < 0.58:
        return f"{{% set {v} = {e} %}}"
    if c < 0.63:
        return f"{{% set {v} %}}{b()}{{% endset %}}"
    if c < 0.68:
        return f"{{% with {v} = {e} %}}{b()}{{% endwith %}}"
    if c < 0.74:
        args = r.choice(["", "p", "p, q=1", "x", "caller=none", "kwargs", "a, varargs"])
        return f"{{% macro {r.choice(['m', 't'])}({args}) %}}{b()}{{% endmacro %}}"
    if c < 0.79:
        return f"{{% call {r.choice(['m', 't'])}({e}) %}}{b()}{{% endcall %}}"
    if c < 0.83:
        return f"{{% filter {r.choice(['upper', 'nosuch', 'trim'])} %}}{b()}{{% endfilter %}}"
    if c < 0.88:
        scoped = " scoped" if r.random() < 0.3 else ""
        return f"{{% block {r.choice(['b', 'c'])}{scoped} %}}{b()}{{% endblock %}}"
    return r.choice(
        [
            "{% include 'i.md' %}",
            "{% import 'i.md' as mm %}{{ mm.f(x) }}",
            "{% from 'i.md' import f as g %}{{ g(y) }}",
            f"{{% set ns.v = {e} %}}",
            "{% extends 'base.md' %}",
        ]
    )


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
