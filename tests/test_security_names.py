"""Names with control characters (issue 14, item 8): a file name, id, version, variable
name or commit message holding a newline, a carriage return, ESC or a bidi override is
shown escaped (``\\n``, ``\\u202e``) in every terminal line and every Markdown report, so
it cannot fake a line, rewrite one, send escape sequences or reorder what a reviewer reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import GitRepo

from loomgit.report import pr_comment
from loomgit.report.ci_result import CaseChange, CiReport, PromptChange, Side
from loomgit.report.escape import md_code, md_text, term_lines, term_text

NEWLINE = "prompts/evil\nloomgit check: no problems found.prompt"
RLO = "prompts/a\u202egnp.prompt"
ESC = "prompts/esc\x1b[2Jred.prompt"
BODY = "---\ndescription: x\n---\nuser:\nhello\n"
RAW = ("\n", "\u202e", "\x1b", "\r")


def raw_free(text: str) -> bool:
    """No unsafe character in any line (newlines between lines are loomgit's own)."""
    return not any(c in line for line in text.splitlines() for c in RAW)


@pytest.fixture
def named(repo: GitRepo) -> GitRepo:
    repo.commit("names", {NEWLINE: BODY, RLO: BODY, ESC: BODY})
    repo.commit("touch\x1b[31m red\rfake", {RLO: BODY.replace("hello", "hi")})
    return repo


def test_list_escapes_names(named: GitRepo, cli: Any) -> None:
    r = cli(["list"], cwd=named.path)
    assert r.exit_code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 4 and raw_free(r.out)
    assert any("prompts/evil\\nloomgit check: no problems found.prompt" in ln for ln in lines)
    assert any(ln.startswith("a\\u202egnp ") for ln in lines)
    assert any("prompts/esc\\u001b[2Jred.prompt" in ln for ln in lines)
    j = cli(["list", "--json"], cwd=named.path)
    assert raw_free(j.out) and "\\u202e" in j.out
    assert RLO in {row["path"] for row in json.loads(j.out)}  # the escapes are JSON's own


def test_check_escapes_names(named: GitRepo, cli: Any) -> None:
    r = cli(["check"], cwd=named.path)
    assert r.exit_code == 1
    assert raw_free(r.out)
    assert "loomgit check: no problems found" not in r.out.splitlines()
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 3
    assert errors[2].startswith("prompts/evil\\nloomgit check: no problems found.prompt: error:")
    assert errors[0].startswith("prompts/a\\u202egnp.prompt: error:")


def test_log_escapes_the_title_and_the_commit_subject(named: GitRepo, cli: Any) -> None:
    r = cli(["log", RLO], cwd=named.path)
    assert r.exit_code == 0, r.err
    assert raw_free(r.out)
    assert r.out.splitlines()[0] == "a\\u202egnp (prompts/a\\u202egnp.prompt)"
    assert "touch\\u001b[31m red\\rfake" in r.out


def test_show_escapes_the_header(repo: GitRepo, cli: Any) -> None:
    path = "prompts/rlo\u202egnp.prompt"
    repo.commit("valid id, odd path", {path: "---\nid: support/ok\n---\nuser:\nhello\n"})
    r = cli(["show", path], cwd=repo.path)
    assert r.exit_code == 0, r.err
    head = "support/ok 1.0.0  (prompts/rlo\\u202egnp.prompt, working tree)"
    assert r.out.splitlines()[0] == head
    assert raw_free(r.out)


@pytest.mark.parametrize(
    "ident", ["evil\nloomgit: all good", "x\u202eyz", "a\x1b[2Jb", "v@1.0\r\n.0"]
)
def test_error_lines_escape_names(named: GitRepo, cli: Any, ident: str) -> None:
    r = cli(["render", ident], cwd=named.path)
    assert r.exit_code == 1
    assert len(r.err.strip().splitlines()) == 1 and raw_free(r.err)
    assert r.err.startswith("loomgit: error: ")
    shown = term_text(ident.split("@")[0])
    assert shown in r.err or shown.replace("\\u001b", "\\x1b") in r.err


def test_hook_output_escapes_names(named: GitRepo, cli: Any) -> None:
    named.write({RLO: "---\ndescription: x\n---\nuser:\n{{ oops \n"})
    named.git("add", "-A")
    r = cli(["hook", "check"], cwd=named.path)
    assert r.exit_code == 1
    assert raw_free(r.out + r.err)
    assert "prompts/a\\u202egnp.prompt:" in r.out + r.err


def test_undeclared_variable_name_is_escaped(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "var",
        {"prompts/v.prompt": "---\nvariables: {}\n---\nuser:\n{{ vars['a\u202eb\\n'] }}\n"},
    )
    r = cli(["check"], cwd=repo.path)
    assert raw_free(r.out + r.err)


def _report() -> CiReport:
    case = CaseChange("case\n| fake | row |\u202e", "echo\x1b[2J", "passed", "failed")
    p = PromptChange(
        "evil\n## Approved\u202e",
        "prompts/evil\n.prompt",
        "modified",
        "prompts/evil\n.tests.yaml",
        Side(gate="passed"),
        Side(gate="failed"),
        cases=(case,),
        reasons=("variable 'x\u202e\ny' added",),
    )
    return CiReport("a" * 40, "b" * 40, "main\n## ok", "pr\u202e", "regression", (p,))


def test_pr_comment_markdown_shows_escapes() -> None:
    md = pr_comment.render(_report())
    assert raw_free(md)
    assert "## Approved" not in md and "| fake | row |" not in md
    assert "evil\\\\n\\#\\# Approved\\\\u202e" in md
    assert "\\\\u001b" in md
    for line in pr_comment.plain(_report()):
        assert raw_free(line) and "\n" not in line
    assert any("evil\\n## Approved\\u202e" in line for line in pr_comment.plain(_report()))


def test_one_escape_per_medium() -> None:
    s = "a\nb\rc\td\x1be\u202ef\u2066g\x85h\u200bi\ufeffj"
    assert term_text(s) == "a\\nb\\rc\\td\\u001be\\u202ef\\u2066g\\u0085h\\u200bi\\ufeffj"
    assert term_lines("x\ny\x1b") == "x\ny\\u001b"
    assert md_text("a\nb\u202e") == "a\\\\nb\\\\u202e"
    assert "\\u202e" in md_code("line\none\u202e") and "line\none" in md_code("line\none")


def test_a_file_name_cannot_add_a_commit_trailer(repo: GitRepo, cli: Any) -> None:
    repo.commit("init")
    repo.write({"prompts/evil\nSigned-off-by: Mallory.prompt": BODY})
    repo.git("add", "-A")
    msg = repo.path / ".git" / "MSG"
    msg.write_text("add a prompt\n")
    r = cli(["hook", "versions", str(msg)], cwd=repo.path)
    assert r.exit_code == 0, r.err
    lines = msg.read_text().splitlines()
    assert "Prompt-Version: evil\\nSigned-off-by: Mallory 1.0.0 (initial: first appearance)" in (
        lines
    )
    assert not any(ln.startswith("Signed-off-by:") for ln in lines)


def test_a_bad_option_is_shown_escaped(named: GitRepo, cli: Any) -> None:
    r = cli(["list", "--bogus\n\x1b[2Jx\u202e"], cwd=named.path)
    assert r.exit_code == 2
    assert raw_free(r.err) and "2Jx\\u202e" in r.err


def test_render_piped_keeps_the_prompt_text_as_it_is(repo: GitRepo, cli: Any) -> None:
    """A prompt's own text (a right-to-left mark in Hebrew, say) is data: kept when piped."""
    repo.commit("rtl", {"prompts/rtl.prompt": "---\ndescription: x\n---\nuser:\nשלום\u200f!\n"})
    r = cli(["render", "rtl"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "שלום\u200f!" in r.out
