"""The portable subset: ``check --portable`` names what breaks it, a schema 2 bundle marks
and inlines it, and the shared fixtures under tests/fixtures/portable/ render here
exactly as the JavaScript loader renders them (clients/js/test/, ``node --test``).

The fixtures: ``prompts/*.prompt`` and ``shared/*`` (their includes), ``cases.json``
(variables per case), and two files written from loomgit's own answers with
``LOOMGIT_UPDATE_SNAPSHOTS=1``: ``bundle.json`` (the schema 2 bundle of the prompts) and
``expected.json`` (each case's messages or its one-line error, and each prompt's
portability). Both languages are tested against these same files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

import loomgit
from loomgit.app.bundle import clear_cache
from loomgit.app.bundlefile import BUNDLE_FORMAT, BUNDLE_SCHEMA, read_bundle
from loomgit.app.export import bundle_entry
from loomgit.prompt.jinja import cached_env, render_source
from loomgit.prompt.parse import parse_prompt
from loomgit.prompt.parts import include_names
from loomgit.prompt.portable import inline_includes, portable_problems
from loomgit.prompt.render import resolve_variables

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "portable"
UPDATE = bool(os.environ.get("LOOMGIT_UPDATE_SNAPSHOTS"))
CASES: dict[str, list[dict[str, Any]]] = json.loads((FIXTURES / "cases.json").read_text())
FILES = {p.stem: p for p in (FIXTURES / "prompts").iterdir() if p.suffix in (".prompt", ".md")}
IDS = sorted(FILES)
# the .md files are plain files of a glob entry {template: none, role: system}
PLAIN = {"role": "system", "template": "none"}


def _includes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    todo = include_names(text)
    while todo:
        name = todo.pop()
        if name not in out and (FIXTURES / name).is_file():
            out[name] = (FIXTURES / name).read_text()
            todo += include_names(out[name])
    return dict(sorted(out.items()))


def build_bundle() -> dict[str, Any]:
    prompts = {}
    for ident in IDS:
        path = f"prompts/{FILES[ident].name}"
        text = (FIXTURES / path).read_text()
        fields = {
            **(PLAIN if path.endswith(".md") else {}),
            "version": "1.0.0",
            "content_hash": "sha256:fixture",
            "source_commit": "0" * 40,
            "path": path,
        }
        prompts[ident] = bundle_entry(ident, fields, "production", text, _includes(text))
    return {
        "format": BUNDLE_FORMAT,
        "schema": BUNDLE_SCHEMA,
        "stage": "production",
        "branch": "stage/production",
        "commit": "0" * 40,
        "exported_at": "2026-01-01T00:00:00Z",
        "prompts": prompts,
    }


def _outcome(p: loomgit.LoadedPrompt, variables: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return {"messages": p.render(variables)}
    except loomgit.LoomgitError as e:
        return {"error": str(e)}


def build_expected() -> dict[str, Any]:
    clear_cache()
    out: dict[str, Any] = {}
    for ident in IDS:
        p = loomgit.load(ident, bundle=FIXTURES / "bundle.json")
        entry = read_bundle(FIXTURES / "bundle.json")["prompts"][ident]
        out[ident] = {
            "portable": entry["portable"],
            "problems": [pr["message"] for pr in entry["portable_problems"]],
            "cases": {c["name"]: _outcome(p, c["variables"]) for c in CASES.get(ident, [])},
        }
    return out


def _compare(name: str, got: Any) -> None:
    path = FIXTURES / name
    if UPDATE:
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert json.loads(path.read_text()) == got, (
        f"{name} is stale: rerun with LOOMGIT_UPDATE_SNAPSHOTS=1"
    )


def test_the_fixture_bundle_is_what_export_writes_today() -> None:
    _compare("bundle.json", build_bundle())


def test_the_fixtures_render_as_expected() -> None:
    """What Python renders is what the JavaScript tests expect (the same file)."""
    _compare("expected.json", build_expected())


def test_every_prompt_has_cases_and_the_expectations_cover_them() -> None:
    assert sorted(CASES) == IDS
    expected = json.loads((FIXTURES / "expected.json").read_text())
    assert sorted(expected) == IDS
    portable = [i for i in IDS if expected[i]["portable"]]
    assert set(portable) == set(IDS) - {"not-portable"}
    # errors are among the cases: validation and undefined keys, one line each
    errors = [c["error"] for e in expected.values() for c in e["cases"].values() if "error" in c]
    assert any("missing required variable(s): name" in e for e in errors)
    assert any("has no attribute 'plan'" in e for e in errors)


@pytest.mark.parametrize("ident", [i for i in IDS if i not in ("not-portable", "snippet")])
def test_inlined_templates_render_as_the_includes_do(ident: str) -> None:
    """The inlined message of a portable prompt, rendered with no loader at all, is the
    message rendered with its includes."""
    text = (FIXTURES / "prompts" / f"{ident}.prompt").read_text()
    incs = _includes(text)
    prompt = parse_prompt(text, f"prompts/{ident}.prompt", prompt_id=ident)
    assert portable_problems(prompt, incs.get) == []
    values = resolve_variables(prompt, CASES[ident][0]["variables"], incs.get)
    for m in prompt.messages:
        if m.placeholder is not None:
            continue
        want = render_source(m.source, values, env=cached_env(incs.get), where=("p", 1))
        flat = inline_includes(m.source, incs.get)
        assert "include" not in flat
        assert render_source(flat, values, env=cached_env(), where=("p", 1)) == want


def test_check_portable_names_each_construct_with_its_line(repo: GitRepo, cli) -> None:
    files = {f"prompts/{p.name}": p.read_text() for p in (FIXTURES / "prompts").glob("*.prompt")}
    files |= {f"shared/{p.name}": p.read_text() for p in (FIXTURES / "shared").iterdir()}
    files["loomgit.yaml"] = "includes: [shared/]\n"
    repo.commit("fixtures", files)
    r = cli(["check", "--portable", "prompts/not-portable.prompt"], cwd=repo.path)
    assert r.exit_code == 1
    lines = [ln for ln in r.out.splitlines() if "not portable" in ln]
    expected = json.loads((FIXTURES / "expected.json").read_text())["not-portable"]["problems"]
    assert [ln.replace(": error: ", ": ", 1) for ln in lines] == expected
    assert lines[0] == (
        "prompts/not-portable.prompt:9: error: not portable: the filter 'upper' "
        "(the portable subset: variables, dotted access, if/elif/else with == != and or "
        "not, for, include)"
    )
    constructs = [ln.split(": not portable: ")[1].split(" (the portable")[0] for ln in lines]
    assert constructs == [
        "the filter 'upper'",
        "set",
        "arithmetic '+'",
        "'~' concatenation",
        "the comparison '>'",
        "'.items', a Python method name (write ['items'])",
        "call of 'range()'",
        "macro",
        "inline 'if … else'",
        "the filter 'title'",
    ]
    assert any(ln.startswith("shared/filtered.md:1: error:") for ln in lines)
    # the portable prompts pass, and plain check does not name the subset at all
    ok = cli(
        ["check", "--portable", "prompts/loops.prompt", "prompts/whitespace.prompt"], cwd=repo.path
    )
    assert ok.exit_code == 0, ok.out
    plain = cli(["check", "prompts/not-portable.prompt"], cwd=repo.path)
    assert "not portable" not in plain.out
    js = cli(["check", "--portable", "--json"], cwd=repo.path)
    assert js.exit_code == 1
    assert len([f for f in json.loads(js.out)["findings"] if "not portable" in f["message"]]) == 10


CONSTRUCTS = Path(__file__).resolve().parent / "corpus" / "portable" / "constructs.json"


@pytest.mark.parametrize("source", list(json.loads(CONSTRUCTS.read_text())))
def test_each_construct_is_named_with_its_line_or_is_portable(source: str) -> None:
    """tests/corpus/portable/constructs.json: a template (a message starting on line 3
    of p.prompt) and what breaks the subset in it ([] when nothing does)."""
    from loomgit.prompt.parts import MessageTemplate

    class Msg:
        path = "p.prompt"
        variables = None
        messages = (MessageTemplate("user", source, 3),)

    includes = {"bad.md": "ok\n{{ x|trim }}", "ok.md": "{{ x }}"}
    want = json.loads(CONSTRUCTS.read_text())[source]
    got = [f"{p.path}:{p.line}: {p.construct}" for p in portable_problems(Msg(), includes.get)]
    assert got == want


def test_the_environment_settings_the_javascript_loader_follows() -> None:
    """clients/js/src/render.js renders as loomgit's prompt environment is set: no
    trim_blocks, no lstrip_blocks, one trailing newline dropped, StrictUndefined."""
    env = cached_env()
    assert (env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline) == (False,) * 3
    assert env.newline_sequence == "\n"
    assert env.undefined.__name__ == "StrictUndefined"
    assert (env.block_start_string, env.variable_start_string, env.comment_start_string) == (
        "{%",
        "{{",
        "{#",
    )
    assert env.line_statement_prefix is None and env.line_comment_prefix is None
