"""Glob entry options (``role``, ``template: none``) and their validation, template errors
at file:line:col, ``--var`` on top of the sample, ``list`` never cutting ids, ``export``
following the umask. Bad inputs live in tests/corpus/config and tests/corpus/templates."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import CORPUS, SUMMARIZE, GitRepo

from loomgit.config import GlobSpec
from loomgit.history.facts import FactsBuilder, facts_from_prompt
from loomgit.prompt.parse import parse_prompt

SYSTEM_GLOB = 'prompts:\n  - {glob: "patterns/*/system.md", id: "{1}", role: system}\n'
VUE = "Write the component:\n\n<template>\n  <p>{{ message }}</p>\n  {% raw %}x\n</template>\n"


def _json(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.exit_code == 0, r.out + r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


# --- role ------------------------------------------------------------------------------


def test_a_glob_role_makes_plain_files_system_messages(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "loomgit.yaml": SYSTEM_GLOB,
            "patterns/summarize/system.md": "# IDENTITY\nYou summarize {{ topic }}.\n",
            "patterns/split/system.md": "system:\nBe brief.\n\nuser:\nSplit {{ text }}\n",
        },
    )
    data = _json(cli(["render", "summarize", "--var", "topic=tea", "--json"], cwd=repo.path))
    assert data["messages"] == [{"role": "system", "content": "# IDENTITY\nYou summarize tea."}]
    roles = _json(cli(["render", "split", "--var", "text=x", "--json"], cwd=repo.path))
    assert [m["role"] for m in roles["messages"]] == ["system", "user"]  # role lines still split
    assert cli(["check"], cwd=repo.path).exit_code == 0
    # history reads the file with the same options: show at a commit renders a system message
    shown = _json(cli(["render", "summarize@HEAD", "--var", "topic=tea", "--json"], cwd=repo.path))
    assert shown["messages"][0]["role"] == "system"


def test_role_applies_only_to_plain_files(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "loomgit.yaml": 'prompts:\n  - {glob: "p/*.md", role: system}\n',
            "p/fm.md": "---\nmodel: echo\n---\nHello\n",
        },
    )
    data = _json(cli(["render", "fm", "--json"], cwd=repo.path))
    assert data["messages"] == [{"role": "user", "content": "Hello"}]


# --- template: none --------------------------------------------------------------------


def test_template_none_renders_braces_verbatim(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "loomgit.yaml": 'prompts:\n  - {glob: "snippets/*.md", template: none, role: system}\n',
            "snippets/vue.md": VUE,
        },
    )
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0, r.out
    data = _json(cli(["render", "vue", "--json"], cwd=repo.path))
    assert data["messages"] == [{"role": "system", "content": VUE.strip("\n")}]
    r = cli(["render", "vue", "--var", "message=x"], cwd=repo.path)
    assert r.exit_code == 1 and "unknown variable(s): message (declared: none)" in r.err
    lst = _json(cli(["list", "--json"], cwd=repo.path))
    assert [row["version"] for row in lst] == ["1.0.0"]
    # an edit adding braces is a text change (minor), not a new required variable (major)
    repo.commit("more", {"snippets/vue.md": VUE + "{{ other }}\n"})
    log = _json(cli(["log", "vue", "--json"], cwd=repo.path))
    assert log[0]["version"] == "1.1.0", log[0]
    assert "variable" not in json.dumps(log[0])


def test_check_names_the_option_when_a_plain_file_is_not_a_template(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "loomgit.yaml": 'prompts:\n  - "snippets/*.md"\n',
            "snippets/vue.md": (CORPUS / "templates/vue_snippet.md").read_text(),
        },
    )
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 1
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert errors == [
        "snippets/vue.md:5:6: error: template syntax error: '{{' is never closed (unexpected '}')"
        " (if this file's braces are literal text, set `template: none` on its glob entry in"
        " loomgit.yaml)"
    ]
    repo.write({"loomgit.yaml": 'prompts:\n  - {glob: "snippets/*.md", template: none}\n'})
    assert cli(["check"], cwd=repo.path).exit_code == 0


def test_a_prompt_file_with_a_syntax_error_gets_no_hint(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("add", {"prompts/a.prompt": "---\nmodel: echo\n---\nHi {{ x\n"})
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 1 and "template: none" not in r.out


PLAIN = [
    "# Title\nYou are {{ who }}.\n",
    "system:\nA {{ a }}\n\nuser:\nB {% if b %}x{% endif %}\n",
    "Vue {{ message }} and {% raw %} {# c #}\n",
    "\n\nLeading blank lines {{ x }}\n",
]


@pytest.mark.parametrize("text", PLAIN)
@pytest.mark.parametrize(
    "spec",
    [
        GlobSpec("p/*.md"),
        GlobSpec("p/*.md", role="system"),
        GlobSpec("p/*.md", template="none"),
        GlobSpec("p/*.md", role="assistant", template="none"),
    ],
)
def test_history_facts_equal_the_parsed_prompt_with_options(text: str, spec: GlobSpec) -> None:
    fast = FactsBuilder(lambda p: spec).from_text(text, "p/x.md")
    try:
        prompt = parse_prompt(text, "p/x.md", glob=spec)
    except Exception:
        assert not fast.ok
        return
    full = facts_from_prompt(prompt)
    assert fast.ok
    for name in ("content_hash", "messages", "includes"):
        assert getattr(fast, name) == getattr(full, name), name
    assert set(fast.interface) == set(full.interface)
    if spec.verbatim:
        assert fast.interface == {}


# --- loomgit.yaml: glob entries are validated ------------------------------------------

CONFIG = {
    "glob_unknown_key.yaml": (6, "unknown key 'rol' in a glob entry (did you mean 'role'?)"),
    "glob_template_typo.yaml": (
        3,
        "unknown key 'templates' in a glob entry (did you mean 'template'?)",
    ),
    "glob_role_number.yaml": (2, "role must be one of system, user, assistant, got 3"),
    "glob_role_unknown.yaml": (4, "role must be one of system, user, assistant, got 'boss'"),
    "glob_template_unknown.yaml": (3, "template must be 'jinja' or 'none'"),
    "glob_missing_glob.yaml": (2, "each mapping entry needs glob:"),
    "glob_id_number.yaml": (2, "id must be a string such as '{1}'"),
    "glob_id_placeholder.yaml": (2, "uses placeholder {2} but glob 'patterns/*/system.md' has 1"),
    "glob_entry_list.yaml": (2, "each entry must be a glob or {glob: ..., id: ...}"),
    "glob_unclosed_brace.yaml": ("2:5", "this '{' is never closed"),
}


def test_config_corpus_is_complete() -> None:
    assert {p.name for p in (CORPUS / "config").iterdir()} == set(CONFIG)


@pytest.mark.parametrize("name", sorted(CONFIG))
@pytest.mark.parametrize("command", [["check"], ["list"], ["render", "x"]])
def test_bad_glob_entries_give_one_line(repo: GitRepo, cli, name: str, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    line, text = CONFIG[name]
    shutil.copy(CORPUS / "config" / name, repo.path / "loomgit.yaml")
    r = cli(command, cwd=repo.path)
    assert r.exit_code == 2, r.out + r.err
    assert r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1, r.err
    assert err[0].startswith(f"loomgit: error: loomgit.yaml:{line}: "), err[0]
    assert text in err[0]
    assert "Traceback" not in r.err


def test_did_you_mean_is_the_one_helper_of_loomgit_yaml(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write({"loomgit.yaml": "promts: [a/*.md]\n"})
    r = cli(["check"], cwd=repo.path)
    assert "unknown setting (did you mean 'prompts'?)" in r.err


# --- template errors at file:line:col --------------------------------------------------

TEMPLATES = {  # file -> (where the error is, what it says)
    "unclosed_print.prompt": ("unclosed_print.prompt:9:9", "'{{' is never closed"),
    "unclosed_block.prompt": ("unclosed_block.prompt:8:1", "'{% if %}' has no '{% endif %}'"),
    "unknown_tag.prompt": ("unknown_tag.prompt:6:3", "unknown tag 'frobnicate'"),
    "bad_filter.prompt": ("bad_filter.prompt:8:15", "No filter named 'shout'"),
    "bad_char.prompt": ("bad_char.prompt:6:19", "unexpected char '$'"),
    "nesting.prompt": ("nesting.prompt:8:1", "'if' was opened at line 6, column 1"),
    "include_broken.prompt": ("partials/broken.md:2:4", "'{{' is never closed"),
    "vue_snippet.md": ("vue_snippet.md:5:6", "set `template: none` on its glob entry"),
}


@pytest.fixture
def template_repo(repo: GitRepo) -> GitRepo:
    shutil.copytree(CORPUS / "templates", repo.path / "prompts")
    repo.commit("corpus", {"loomgit.yaml": 'prompts: ["prompts/**/*.prompt", "prompts/*.md"]\n'})
    return repo


def test_template_corpus_is_complete() -> None:
    names = {p.name for p in (CORPUS / "templates").iterdir() if p.is_file()}
    assert names == set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_errors_name_file_line_and_column(template_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    where, text = TEMPLATES[name]
    r = cli(["check", f"prompts/{name}"], cwd=template_repo.path)
    assert r.exit_code == 1, r.out
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    assert errors[0].startswith(f"prompts/{where}: error: template syntax error: "), errors[0]
    assert text in errors[0]
    r = cli(["render", f"prompts/{name}"], cwd=template_repo.path)
    assert r.exit_code == 1 and r.out == ""
    assert r.err.startswith(f"loomgit: error: prompts/{where}: template syntax error: "), r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_an_offset_is_never_shown(template_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    body = "x\n" * 300 + "y {{ a ! b }}\n"
    template_repo.write({"prompts/far.prompt": "---\nmodel: echo\n---\nuser:\n" + body})
    r = cli(["check", "prompts/far.prompt"], cwd=template_repo.path)
    assert "prompts/far.prompt:305:8: error: template syntax error: unexpected char '!'" in r.out
    assert " at 6" not in r.out


def test_an_unclosed_brace_in_frontmatter_is_named_where_it_opens(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    text = "---\nmodel: echo\nvariables:\n  a: {type: string\n  b: 1\n---\nuser:\n{{ a }}\n"
    repo.commit("add", {"prompts/a.prompt": text})
    r = cli(["check"], cwd=repo.path)
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert errors == [
        "prompts/a.prompt:4:6: error: invalid YAML: this '{' is never closed"
        " (expected ',' or '}', but got ':' at line 5)"
    ]


# --- --var on top of the sample --------------------------------------------------------


def test_var_goes_on_top_of_the_sample(sample_repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _json(
        cli(["render", "summarize", "--var", "tone=casual", "--json"], cwd=sample_repo.path)
    )
    assert "casual tone" in data["messages"][0]["content"]
    assert "Printer on floor 3 is on fire" in data["messages"][1]["content"]  # from the sample
    vf = tmp_path / "v.json"
    vf.write_text('{"ticket": "Mouse is gone", "tone": "casual"}')
    args = ["render", "summarize", "--vars-file", str(vf), "--var", "tone=formal", "--json"]
    data = _json(cli(args, cwd=sample_repo.path))
    assert "formal tone" in data["messages"][0]["content"]
    assert "Mouse is gone" in data["messages"][1]["content"]
    # diff --render: each side's sample, overridden by --var
    sample_repo.commit(
        "v2", {"prompts/support/summarize.prompt": SUMMARIZE.replace("Answer", "Reply")}
    )
    r = cli(
        ["diff", "summarize@HEAD~1", "summarize@HEAD", "--render", "--var", "tone=casual"],
        cwd=sample_repo.path,
    )
    assert r.exit_code == 0, r.err
    assert "missing required" not in r.out + r.err


# --- list never cuts ids ---------------------------------------------------------------

LONG = "agility_storytelling_for_product_managers_and_designers_extended"


def _run_in_pty(args: list[str], cwd: Path, columns: int) -> str:
    import pty
    import select
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("loomgit"))
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), TERM="xterm")
    proc = subprocess.Popen([exe, *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 30)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(30)
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a POSIX terminal")
@pytest.mark.parametrize("columns", [100, 60])
def test_list_never_cuts_ids(repo: GitRepo, columns: int) -> None:
    ids = [LONG, "extract_wisdom_from_very_long_conversation_transcripts", "short"]
    repo.commit(
        "add",
        {
            "loomgit.yaml": SYSTEM_GLOB,
            **{f"patterns/{i}/system.md": "You help.\n" for i in ids},
        },
    )
    out = _run_in_pty(["list"], repo.path, columns)
    assert "━" in out  # rich's table on a terminal
    for i in ids:
        assert i in out, out
    assert "…" not in out
    assert "1.0.0" in out and repo.git("rev-parse", "--short=7", "HEAD") in out


# --- export follows the umask ----------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_export_follows_the_umask(
    sample_repo: GitRepo, cli, tmp_path: Path, umask: int, mode: int
) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=sample_repo.path).exit_code
        == 0
    )
    out = tmp_path / "dist" / "bundle.json"
    old = os.umask(umask)
    try:
        r = cli(["export", "--stage", "staging", "-o", str(out)], cwd=sample_repo.path)
        r2 = cli(["export", "--stage", "staging", "-o", str(out)], cwd=sample_repo.path)
    finally:
        os.umask(old)
    assert r.exit_code == 0 and r2.exit_code == 0, r.err + r2.err
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert [p.name for p in out.parent.iterdir()] == ["bundle.json"]  # no temporary file left


def test_model_answer_cache_stays_private(tmp_path: Path) -> None:
    from loomgit.fsutil import atomic_write

    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "c.json", "{}", private=True)
        q = atomic_write(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE(q.stat().st_mode) == 0o644


def test_bundle_keeps_the_glob_options(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import loomgit
    from loomgit.app.bundle import clear_cache

    repo.commit(
        "add",
        {
            "loomgit.yaml": 'prompts:\n  - {glob: "patterns/*/system.md", id: "{1}", role: system, template: none}\n',
            "patterns/vue/system.md": VUE,
        },
    )
    assert cli(["promote", "vue", "1.0.0", "--to", "staging"], cwd=repo.path).exit_code == 0
    out = tmp_path / "b.json"
    assert cli(["export", "--stage", "staging", "-o", str(out)], cwd=repo.path).exit_code == 0
    entry = json.loads(out.read_text())["prompts"]["vue"]
    assert entry["role"] == "system" and entry["template"] == "none"
    clear_cache()
    want = [{"role": "system", "content": VUE.strip("\n")}]
    assert loomgit.load("vue", "staging", bundle=str(out)).render() == want
    clear_cache()
    assert loomgit.load("vue", "staging", repo=repo.path).render() == want
