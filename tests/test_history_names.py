"""The used variables history learns from a parse once per template shape
(loomgit.prompt.names) are exactly what the full path gives (render.used_variables:
parse + jinja2.meta per template, includes followed): on every corpus prompt, on
realistic Jinja templates, and on many variants whose prose differs. After one new
commit the cached history parses only the new templates; a declared ``variables:`` block
still makes an undeclared used variable a check error."""

from __future__ import annotations

import importlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, GitRepo

from loomgit.errors import LoomgitError
from loomgit.history import history
from loomgit.prompt import jinja, names
from loomgit.prompt.model import MessageTemplate, Prompt
from loomgit.prompt.parse import parse_prompt
from loomgit.prompt.render import parsed_variables, used_variables
from loomgit.workspace import Workspace

hv_mod = importlib.import_module("loomgit.history.versions")  # the module, not the function
ROOT = Path(__file__).resolve().parent.parent

PARTIALS = {
    "partials/tone.md": '{% if tone == "formal" %}Formal.{% else %}Friendly, {{ name }}.{% endif %}',
    "partials/macros.md": (
        "{% macro bullet(text, level=0) %}{{ '  ' * level }}- {{ text | trim }}{% endmacro %}"
        "{% macro box(title) %}[{{ title }}] {{ caller() }} {{ footer }}{% endmacro %}"
    ),
    "partials/loop.md": "{% for x in items %}{{ x }}{{ sep }}{% endfor %}{% include 'partials/tone.md' %}",
    "partials/broken.md": "{% if %}",
    "partials/self.md": "{{ depth }}{% include 'partials/self.md' %}",
}

TEMPLATES = [
    "Hello {{ name | default('there') | title }}, {{ ticket | trim | truncate(20) }}",
    "{% for item in items %}{{ loop.index }}. {{ item.title }}{% if not loop.last %}, "
    "{% endif %}{% else %}none{% endfor %}{{ item }}",
    "{% for a, b in pairs if a > limit %}{{ a }}={{ b }}{{ loop.length }}{% endfor %}",
    "{% for n in tree recursive %}{{ n.name }}{{ loop(n.children) }}{% endfor %}",
    "{% set greeting = 'Hi ' ~ who %}{{ greeting }} {{ who }}",
    "{{ early }}{% set early = 1 %}{{ early }}",
    "{% set block_var %}{{ inner }} text{% endset %}{{ block_var | upper }}",
    "{% with a = x, b = a %}{{ a }}{{ b }}{{ c }}{% endwith %}{{ a }}",
    "{% macro m(p, q=default_q) %}{{ p }}{{ q }}{{ outer }}{{ varargs }}{{ kwargs }}"
    "{% endmacro %}{{ m(1) }}{{ p }}",
    "{% call(row) table(rows) %}{{ row.cell }}{{ extra }}{% endcall %}",
    "{% filter upper %}{{ shout }}{% endfilter %}",
    '{% include "partials/tone.md" %} and {{ own }}',
    '{% from "partials/macros.md" import bullet, box %}{{ bullet(point) }}'
    "{% call box('t') %}{{ inside }}{% endcall %}",
    '{% import "partials/macros.md" as mac %}{{ mac.bullet(thing, level=lvl) }}',
    "{% include 'partials/loop.md' %}{% include 'partials/missing.md' ignore missing %}",
    '{% include ["partials/none.md", "partials/tone.md"] %}{% include dynamic_name %}',
    "{% include 'partials/broken.md' %}{{ still }}",
    "{% include 'partials/self.md' %}",
    "{% if a %}{{ b }}{% elif c is defined %}{{ d[e] }}{% else %}{{ f.g(h=i) }}{% endif %}",
    "{{ range(n) | list }} {{ dict(a=k) }} {{ x if y else z }} {{ [p, q] | join(', ') }}",
    "{% raw %}{{ not_a_variable }}{% endraw %}{{ real }}",
    "{# {{ commented }} #}{{ shown }}{#- trimmed -#}",
    "{%- if t -%}\n  {{- u -}}\n{%- endif %}",
    "{% block content %}{{ in_block }}{{ self }}{% endblock %}",
    "{% extends 'partials/tone.md' %}{% block b %}{{ ext }}{{ super() }}{% endblock %}",
    "{{ 'a' ~ s ~ '}}' }} {{ {'k': v}['k'] }}",
    "{% for x in xs %}{% set y = x %}{{ y }}{% endfor %}{{ y }}",
    "{% if %}broken",
    "{{ unclosed",
    "{{ 'unterminated }}",
    "plain text only",
]

PROSE = ["Be brief.", "Answer the customer politely.", "", "Line one.\nLine two.", "é ü 中"]


def _loader(name: str) -> str | None:
    return PARTIALS.get(name)


def _old(sources: list[str]) -> set[str]:
    """The full path, as history computed it before: a prompt with these messages."""
    messages = tuple(MessageTemplate("user", s, 1) for s in sources)
    return parsed_variables(Prompt(id="x", path="p.prompt", text="", messages=messages), _loader)


def _new(sources: list[str]) -> set[str]:
    return set(names.used_names(sources, _loader))


@pytest.fixture(autouse=True)
def _fresh_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: nothing learnt yet."""
    monkeypatch.setattr(names, "_BY_TEXT", {})
    monkeypatch.setattr(names, "_BY_SHAPE", {})
    monkeypatch.setattr(names, "_BY_SKELETON", {})
    monkeypatch.setattr(names, "_NEW", {})
    monkeypatch.setattr(names, "_LOADER", [])


@pytest.mark.parametrize("template", TEMPLATES)
def test_used_names_equal_the_full_path_on_realistic_templates(template: str) -> None:
    assert _new([template]) == _old([template])


def test_two_messages_and_their_shared_includes_equal_the_full_path() -> None:
    rng = random.Random(5)
    for _ in range(60):
        sources = rng.sample(TEMPLATES, rng.randint(1, 4))
        assert _new(sources) == _old(sources), sources


def test_prose_between_tags_never_changes_the_result_and_is_not_parsed_again() -> None:
    """Variants of each template with other text between its tags: one parse per shape,
    and each variant's names equal a fresh full parse of that variant."""
    rng = random.Random(11)
    for template in TEMPLATES:
        before = jinja.PARSES[0]
        for _ in range(8):
            variant = rng.choice(PROSE) + template + rng.choice(PROSE)
            expected = jinja.parse_names(variant)
            got = names.template_names(variant)
            if expected is None:
                assert got is None, variant
            else:
                assert got is not None, variant
                assert got == (frozenset(expected[0]), tuple(expected[1])), variant
        learnt = jinja.PARSES[0] - before - 8  # the check itself parsed each variant once
        if jinja.parse_names(template) is not None:  # a whole template: prose stays data
            assert learnt == 1, template
    # the variants above share shapes: asking again parses only what does not lex
    before = jinja.PARSES[0]
    for template in TEMPLATES:
        names.template_names("Other words. " + template)
    assert jinja.PARSES[0] - before == sum(names.shape(t) is None for t in TEMPLATES)


# lines that open, continue and close tags, strings and comments across lines: every mix
# of them must give what a fresh parse gives, however the memos were filled before
LINE_POOL = [
    "Plain prose here.",
    "",
    "   ",
    "more words, and é ü",
    "{{ a }}",
    "{% if b %}",
    "{% endif %}",
    "{% if c",
    "  and d %}",
    "  or e",
    "%}",
    "{{ f +",
    "  g }}",
    '{{ "open string',
    'closed" }}',
    "{% include 'inc",
    "name.md' %}",
    '{% include "partials/tone.md" %}',
    "{# a comment",
    "#}",
    "{% raw %}",
    "{% endraw %}",
    "{{ h ~ '\\",
    "x' }}",
    "{{ '\\N' }}",
    "\x00",
    "{% for i in items %}",
    "{{ loop.index }} {{ i }}",
    "{% endfor %}",
    "{% set j = k %}",
    "}}",
    "{{",
    "{%- raw -%}",
    "{% raw %}{{ inside_raw }}",
    "{% endraw -%}",
    "{#-",
    "-#}",
    "{%- if z -%}",
    "{{- w -}}",
    "{%- endif -%}",
    "{%- include 'partials/tone.md' -%}",
    "{% from 'partials/macros.md' import bullet %}{{ bullet(m) }}",
]


def test_any_mix_of_lines_gives_what_a_fresh_parse_gives() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        text = "\n".join(rng.choice(LINE_POOL) for _ in range(rng.randint(1, 7)))
        expected = jinja.parse_names(text)
        want = None if expected is None else (frozenset(expected[0]), tuple(expected[1]))
        assert names.template_names(text) == want, text
    assert len(names._BY_SKELETON) < len(names._BY_TEXT)  # skeletons were shared


def _corpus_texts() -> list[Path]:
    found = []
    for top in (CORPUS, ROOT / "examples", ROOT / "templates", ROOT / "docs"):
        if top.is_dir():
            for p in sorted(top.rglob("*")):
                if p.is_file() and p.suffix in (".prompt", ".prompty", ".md", ".txt", ".j2"):
                    found.append(p)
    return found


@pytest.mark.parametrize(
    "path", _corpus_texts(), ids=lambda p: str(p.relative_to(ROOT)).replace("/", "-")
)
def test_used_names_equal_the_full_path_on_every_corpus_file(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        pytest.skip("not UTF-8 text")
    siblings = {
        str(p.relative_to(path.parent)): p.read_text(encoding="utf-8", errors="replace")
        for p in path.parent.rglob("*")
        if p.is_file() and p.suffix in (".md", ".txt", ".prompt", ".j2")
    }
    try:
        prompt = parse_prompt(text, str(path.name))
    except LoomgitError:
        expected = jinja.parse_names(text)
        got = names.template_names(text)
        assert got == (None if expected is None else (frozenset(expected[0]), tuple(expected[1])))
        return
    old = parsed_variables(prompt, siblings.get)
    assert used_variables(prompt, siblings.get) == old
    assert set(names.used_names([m.source for m in prompt.messages], siblings.get)) == old


JINJA_PROMPT = """---
description: triage
---
system:
{% include "prompts/partials/tone.md" %}
{% for t in turns %}{{ loop.index }} {{ t.text | trim }}{% endfor %}

user:
{{ ticket }}
"""


def _history_parses(repo: GitRepo) -> int:
    hv_mod._MEMO.clear()
    names._BY_TEXT.clear()  # a new process: only the on-disk cache is known
    names._BY_SHAPE.clear()
    before = jinja.PARSES[0]
    h = history(Workspace(repo.path), "HEAD")
    assert h.live()
    return jinja.PARSES[0] - before


def test_after_one_new_commit_only_the_new_templates_are_parsed(repo: GitRepo) -> None:
    files = {"prompts/partials/tone.md": "{% if formal %}Formal.{% endif %}\n"}
    for i in range(6):
        files[f"prompts/p{i}.prompt"] = JINJA_PROMPT.replace("triage", f"triage {i}").replace(
            "{{ ticket }}", "{{ ticket }} {{ extra" + str(i) + " }}"
        )
    repo.commit("add prompts", files)
    for i in range(4):
        p = repo.path / f"prompts/p{i}.prompt"
        p.write_text(p.read_text().replace("{{ ticket }}", "Ticket: {{ ticket }}"))
        repo.commit(f"reword p{i}")
    shutil.rmtree(repo.path / ".git" / "loomgit", ignore_errors=True)
    cold = _history_parses(repo)
    assert cold == 6 + 1 + 1  # six user messages, one system message, the partial

    assert _history_parses(repo) == 0  # warm

    p = repo.path / "prompts/p0.prompt"
    p.write_text(p.read_text().replace("Ticket:", "The ticket:"))
    repo.commit("prose only")
    assert _history_parses(repo) == 0  # same shape: lexed, not parsed

    p.write_text(p.read_text().replace("{{ ticket }}", "{{ ticket | upper }} {{ urgency }}"))
    repo.commit("a new variable")
    assert _history_parses(repo) == 1  # the one new template; the old version is known
    line = history(Workspace(repo.path), "HEAD").find("p0")
    assert line is not None


def test_a_declared_block_makes_an_undeclared_used_variable_a_check_error(
    repo: GitRepo, cli
) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "prompts/partials/tone.md": "{% if formal %}Formal.{% endif %}\n",
            "prompts/t.prompt": "---\nvariables:\n  ticket: {type: string}\n"
            "  turns: {type: array, default: []}\n  formal: {type: boolean, default: false}\n"
            "---\n" + JINJA_PROMPT.split("---\n", 2)[2],
        },
    )
    r = cli(["check", "prompts/t.prompt"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    p = repo.path / "prompts/t.prompt"
    p.write_text(p.read_text().replace("{{ ticket }}", "{{ ticket }} {{ city }}"))
    r = cli(["check", "prompts/t.prompt"], cwd=repo.path)
    assert r.exit_code == 1
    assert "variable 'city' is used but not declared" in r.out + r.err


SEES_JINJA = """
import sys
from loomgit.cli import main
try:
    main(["list", "--json"])
finally:
    print("jinja2" in sys.modules, file=sys.stderr)
"""


def _list_in_a_new_process(repo: GitRepo) -> tuple[list[dict[str, object]], bool]:
    proc = subprocess.run(
        [sys.executable, "-c", SEES_JINJA], cwd=repo.path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr.split()[-1] == "True"


def test_after_a_prose_only_commit_the_next_command_does_not_need_jinja(repo: GitRepo) -> None:
    """The history cache keeps skeletons as well as shapes: a reworded prompt's skeleton
    is known, so a new process folds the commit without lexing (or importing Jinja)."""
    files = {"prompts/partials/tone.md": "{% if formal %}Formal.{% endif %}\n"}
    for i in range(3):
        text = JINJA_PROMPT.replace("triage", f"triage {i}")
        files[f"prompts/p{i}.prompt"] = text.replace("{{ ticket }}", "Read it.\n{{ ticket }}")
    repo.commit("add prompts", files)
    _list_in_a_new_process(repo)  # cold
    p = repo.path / "prompts/p0.prompt"
    p.write_text(p.read_text().replace("Read it.", "Read it twice, then answer."))
    repo.commit("prose only")
    rows, jinja_seen = _list_in_a_new_process(repo)
    assert not jinja_seen
    assert {r["id"]: r["version"] for r in rows}["p0"] == "1.1.0"
    p.write_text(p.read_text().replace("{{ ticket }}", "{{ ticket }} {{ urgency }}"))
    repo.commit("a new variable")
    rows, jinja_seen = _list_in_a_new_process(repo)
    assert jinja_seen  # a new skeleton: lexed, and its shape parsed
    assert {r["id"]: r["version"] for r in rows}["p0"] == "2.0.0"  # a required variable


def test_the_environments_globals_are_not_used_variables() -> None:
    """``range`` and ``dict`` (Jinja's) and ``image`` (loomgit's) are the environment's;
    ``lipsum``, which the sandbox removes, is a variable like any other."""
    src = (
        '{% for i in range(3) %}{{ x }}{{ dict(a=1) }}{% endfor %}{{ image("a.png") }}{{ lipsum }}'
    )
    assert names.used_names([src], lambda n: None) == {"x", "lipsum"}
