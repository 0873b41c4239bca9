"""Render limits before allocation (issue "Trust boundaries", item 7): widths,
precisions, repeat counts and shared references that would build more than the render
limit are refused before the work, with one ``file:line: error:`` line and exit 1, in a
child under a 1 GiB memory cap (an allocation would fail the child, not pass slowly)."""

from __future__ import annotations

import json

import pytest
from conftest import GitRepo
from security_run import payloads, run_capped

P = payloads()
LIMIT = "larger than the render limit of 1,000,000 characters"


def _prompt(expr: str) -> str:
    return f"---\nid: dos\n---\nuser:\nline one\n{expr}\n"


@pytest.mark.parametrize("name", sorted(P.RENDER))
def test_render_refuses_before_allocating(repo: GitRepo, name: str) -> None:
    repo.commit("dos", {"prompts/dos.prompt": _prompt(P.RENDER[name])})
    r = run_capped(["render", "prompts/dos.prompt"], repo.path)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("loomgit: error: prompts/dos.prompt:6: template would build ")
    assert lines[0].endswith(LIMIT), lines[0]


@pytest.mark.parametrize("name", ["format_filter_width", "indent_width", "join_filter_1gb"])
def test_check_reports_the_same_line(repo: GitRepo, name: str) -> None:
    repo.commit("dos", {"prompts/dos.prompt": _prompt(P.RENDER[name])})
    r = run_capped(["check", "prompts/dos.prompt"], repo.path)
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [ln for ln in r.stdout.splitlines() if ": error: " in ln]
    assert len(errors) == 1 and errors[0].startswith("prompts/dos.prompt:6: error: "), r.stdout
    assert errors[0].endswith(LIMIT)


def test_a_smaller_render_limit_is_honoured(repo: GitRepo) -> None:
    repo.commit(
        "dos",
        {
            "loomgit.yaml": "render: {max_chars: 1000}\n",
            "prompts/dos.prompt": _prompt("{{ '%2000s' % 'x' }}"),
        },
    )
    r = run_capped(["render", "prompts/dos.prompt"], repo.path)
    assert r.returncode == 1
    assert r.stderr.strip().endswith("larger than the render limit of 1,000 characters")


ORDINARY = {
    "{{ '%5.2f|%s|%d|%%' % (3.14159, 'ab', 7) }}": " 3.14|ab|7|%",
    "{{ '%-*s|' % (5, 'a') }}": "a    |",
    "{{ '%(a)s-%(b)05d' % {'a': 1, 'b': 2} }}": "1-00002",
    "{{ '{:>10}|{:,}|{x:.3f}'.format('a', 1000, x=2.5) }}": "         a|1,000|2.500",
    "{{ '{:{w}}|'.format('a', w=3) }}": "a  |",
    "{{ '{0[1]}'.format([1, 2]) }}": "2",
    "{{ [1, 2, {'a': 'b'}] }}": "[1, 2, {'a': 'b'}]",
    "{{ 'a b c'|wordwrap(2) }}": "a\nb\nc",
    "{{ 'a\\nb'|indent(2, true) }}": "  a\n  b",
    "{{ [1, 2]|join(', ') }}": "1, 2",
    "{{ 'x'|center(5) }}|": "  x  |",
    "{{ 'ab'|replace('a', 'xy') }}": "xyb",
    "{{ 'x' * 3 ~ 'y'|truncate(5) }}": "xxxy",
    "{{ ('x' * 999990)|length }}": "999990",
}


@pytest.mark.parametrize("expr", sorted(ORDINARY))
def test_ordinary_formatting_still_renders(repo: GitRepo, cli, expr: str) -> None:  # type: ignore[no-untyped-def]
    repo.commit("ok", {"prompts/ok.prompt": f"---\nid: ok\n---\nuser:\n{expr}\n"})
    r = cli(["render", "prompts/ok.prompt", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    assert json.loads(r.out)["messages"][0]["content"] == ORDINARY[expr]
