"""History reads prompt files with the prompt format's one implementation: its facts equal
what the parser gives for every prompt in the test corpus, and an edit that changes only
YAML quoting (nothing that reaches the model) is a patch version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, GitRepo

from loomgit.errors import LoomgitError
from loomgit.history.facts import Facts, FactsBuilder, facts_from_prompt
from loomgit.history.fold import decode_blob
from loomgit.prompt.frontmatter import frontmatter_id
from loomgit.prompt.parse import decode, parse_prompt

UNQUOTED = """---
description: Answer with a yes or no
variables:
  question: {type: string}
  answer: {enum: [yes, no], default: yes}
---
user:
{{ question }} Answer {{ answer }}.
"""
QUOTED = UNQUOTED.replace("[yes, no], default: yes", '["yes", "no"], default: "yes"')


def test_quoting_only_edit_is_a_patch_version(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    path = "prompts/ask.prompt"
    repo.commit("add ask", {path: UNQUOTED})
    repo.commit("ask: quote the enum", {path: QUOTED})
    got = cli(["log", "ask", "--json"], cwd=repo.path)
    assert got.exit_code == 0, got.err
    log = json.loads(got.out)
    assert [(v["version"], v["change"]) for v in log] == [("1.0.1", "patch"), ("1.0.0", "initial")]
    assert not any("enum" in r for r in log[0]["reasons"])
    ask = parse_prompt(UNQUOTED, path).variables
    assert ask is not None and ask["answer"].enum == ("yes", "no")  # YAML 1.2: strings


FIELDS = (
    "ok",
    "content_hash",
    "model",
    "params",
    "output_format",
    "output_schema",
    "description",
    "tags",
    "sample",
    "other",
    "messages",
    "includes",
    "missing_includes",
)


def _prompt_files() -> list[Path]:
    files = {
        *CORPUS.rglob("*.prompt"),
        *CORPUS.rglob("*.prompty"),
        *CORPUS.rglob("*.prompt.yml"),
        *CORPUS.rglob("*.prompt.yaml"),
        *(ROOT / "tests").rglob("*.prompt"),
        *(ROOT / "templates").rglob("*.prompt"),
    }
    return sorted(files)


def _compare(fast: Facts, full: Facts, name: str) -> None:
    for field in FIELDS:
        assert getattr(fast, field) == getattr(full, field), f"{name}: {field}"
    assert {k: v.to_dict() for k, v in fast.interface.items()} == {
        k: v.to_dict() for k, v in full.interface.items()
    }, name


@pytest.mark.parametrize("path", _prompt_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_history_facts_equal_the_parse_of_every_corpus_prompt(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    data = path.read_bytes()
    text = decode_blob(data)  # what history reads (None: binary, not UTF-8, too large)
    try:
        prompt = parse_prompt(decode(data, rel), rel)
    except LoomgitError as e:
        if text is None or e.message.startswith("id "):
            return  # not text, or an id problem: history's lines decide ids, not facts
        fast = FactsBuilder().from_text(text, rel)
        assert not fast.ok, f"{rel}: the parser refuses it ({e.message}), history does not"
        return
    assert text is not None
    fast = FactsBuilder().from_text(text, rel)
    assert fast.ok, f"{rel}: history refuses it ({fast.error}), the parser does not"
    _compare(fast, facts_from_prompt(prompt), rel)


def test_the_corpus_has_prompts_of_both_kinds() -> None:
    files = _prompt_files()
    ok = 0
    for f in files:
        try:
            parse_prompt(decode(f.read_bytes(), f.name), f.name)
            ok += 1
        except LoomgitError:
            pass
    assert len(files) > 20 and 0 < ok < len(files)


@pytest.mark.parametrize(
    "value",
    ["a/b", "'a/b'", '"a/b"', "123", "'123'", "true", "null", "1.5", "0x1F", "yes", "x.y-z_1"],
)
def test_the_cheap_id_reader_agrees_with_the_parser(value: str) -> None:
    text = f"---\nid: {value}\n---\nhello\n"
    meta_id = parse_prompt(text, "p.prompt", prompt_id="fallback").id
    assert (frontmatter_id(text) or "fallback") == meta_id


def test_the_cheap_id_reader_agrees_with_the_parser_on_the_corpus() -> None:
    for path in _prompt_files():
        data = path.read_bytes()
        t = decode_blob(data)
        if t is None:
            continue
        try:
            p = parse_prompt(decode(data, path.name), path.name, prompt_id="fallback")
        except LoomgitError:
            continue
        assert (frontmatter_id(t) or "fallback") == p.id, path
