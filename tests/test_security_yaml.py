"""YAML bombs and deep nesting (issue "Trust boundaries", item 6): billion laughs at
depth 8 and 9 and 5,000-deep nesting are refused while parsing, with one
``file:line: error:`` line at the offending alias or level and the README's exit code, in
``check``, ``render``, ``list`` (from history, after HEAD is fixed), suites and
``loomgit.yaml``; each runs in a child under a 1 GiB memory cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo
from security_run import payloads, run_capped

import loomgit._yaml as _yaml

P = payloads()
CASES = sorted(P.YAML)
PROMPT = "prompts/bomb.prompt"
SUITE = "prompts/support/summarize.tests.yaml"


def _one_error(text: str, prefix: str, words: str) -> None:
    errors = [ln for ln in text.splitlines() if "error: " in ln]
    assert len(errors) == 1, text
    assert errors[0].startswith(prefix), errors[0]
    assert words in errors[0], errors[0]
    assert "Traceback" not in text


@pytest.mark.parametrize("name", CASES)
def test_check_and_render_refuse_the_frontmatter(repo: GitRepo, name: str) -> None:
    fm, line, words = P.YAML[name]
    repo.commit("bomb", {PROMPT: P.prompt(fm)})
    where = f"{PROMPT}:{line + 2}: "  # frontmatter starts on line 2, after "id: bomb"

    r = run_capped(["check", PROMPT], repo.path)
    assert r.returncode == 1, r.stdout + r.stderr
    _one_error(r.stdout, where, words)

    r = run_capped(["render", PROMPT], repo.path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == ""
    _one_error(r.stderr, f"loomgit: error: {where}", words)


@pytest.mark.parametrize("name", CASES)
def test_list_reads_history_that_holds_a_bomb(repo: GitRepo, name: str) -> None:
    fm, _line, _words = P.YAML[name]
    repo.commit("bomb", {PROMPT: P.prompt(fm)})
    repo.commit("fixed", {PROMPT: P.prompt("model: openai/gpt-4o-mini\n")})
    r = run_capped(["list"], repo.path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bomb" in r.stdout and PROMPT in r.stdout
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_history_remembers_an_invalid_blob(
    repo: GitRepo,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cold ``list`` parses the bad historical blob once; the cache remembers it, so a
    warm run and an incremental one (a new commit) do not parse it again."""
    bomb = P.prompt(P.YAML["flow5000"][0])
    repo.commit("bomb", {PROMPT: bomb})
    repo.commit("fixed", {PROMPT: P.prompt("model: openai/gpt-4o-mini\n")})
    parses: list[str] = []
    real = _yaml._fast_load

    def counting(text: str, path: str | None, line_offset: int) -> object:
        if "[[[[" in text:
            parses.append(text)
        return real(text, path, line_offset)

    monkeypatch.setattr(_yaml, "_fast_load", counting)
    assert cli(["list"], cwd=repo.path).exit_code == 0
    assert len(parses) >= 1  # the cold run read it (and it failed)
    parses.clear()
    assert cli(["list"], cwd=repo.path).exit_code == 0
    assert parses == []  # warm
    repo.commit("more", {"prompts/other.prompt": "---\nid: other\n---\nuser:\nhi\n"})
    r = cli(["list"], cwd=repo.path)
    assert r.exit_code == 0 and "other" in r.out
    assert parses == []  # incremental: only the new commit is read


@pytest.mark.parametrize("name", ["laughs8", "laughs9", "flow5000", "block_seq5000"])
def test_suite_files_are_refused(repo: GitRepo, name: str) -> None:
    fm, line, words = P.YAML[name]
    repo.commit("prompt", {"prompts/support/summarize.prompt": SUMMARIZE})
    repo.write({SUITE: fm + "cases:\n  - name: a\n    vars: {ticket: x}\n"})
    where = f"{SUITE}:{line}: "

    r = run_capped(["check", SUITE], repo.path)
    assert r.returncode == 1, r.stdout + r.stderr
    _one_error(r.stdout, where, words)

    r = run_capped(["eval", "support/summarize", "--model", "echo"], repo.path)
    assert r.returncode == 2, r.stdout + r.stderr
    _one_error(r.stderr, f"loomgit: error: {where}", words)


@pytest.mark.parametrize("name", ["laughs8", "laughs9", "flow5000", "block_map1000"])
def test_config_is_refused(repo: GitRepo, name: str) -> None:
    fm, line, words = P.YAML[name]
    repo.commit("prompt", {"prompts/support/summarize.prompt": SUMMARIZE})
    repo.write({"loomgit.yaml": fm})
    for args in (["check"], ["list"]):
        r = run_capped(args, repo.path)
        assert r.returncode == 2, r.stdout + r.stderr
        _one_error(r.stderr, f"loomgit: error: loomgit.yaml:{line}: ", words)


@pytest.mark.parametrize(
    "text,line,words",
    [
        (P.laughs(9), 7, "expands to more than"),
        (P.flow(300), 1, "nests deeper than 200"),
        (P.block_mappings(300), 201, "nests deeper than 200"),
        ("a: 1\nb: &a {c: *a}\n", 2, "recursive structure"),
    ],
)
def test_ruamel_alone_holds_the_same_limits(
    monkeypatch: pytest.MonkeyPatch, text: str, line: int, words: str
) -> None:
    """Without libyaml (or when it steps aside), ruamel's composer counts the same."""
    monkeypatch.setattr(_yaml, "_LIBYAML", False)
    with pytest.raises(_yaml.YamlError, match=words) as e:
        _yaml.load(text, path="doc.yaml")
    assert (e.value.path, e.value.line) == ("doc.yaml", line)


def test_documents_under_the_limits_still_load(tmp_path: Path) -> None:
    small = P.laughs(4)  # 10,000 values: fine
    assert len(_yaml.plain(_yaml.load(small))["a4"]) == 10
    assert _yaml.load(P.flow(150)) is not None
    assert _yaml.load_roundtrip(P.block_sequences(150)) is not None
