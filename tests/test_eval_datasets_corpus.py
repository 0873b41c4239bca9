"""Every bad data-file entry in tests/corpus/datasets gives one line at the file and line
to fix: `loomgit check` exits 1; `loomgit eval` exits 2 before anything is sent (a bad
suite), or, when the records are read but do not fit the prompt, runs and fails them."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from conftest import CORPUS, GitRepo

SUITE = "prompts/support/summarize.tests.yaml"
S = SUITE

# case -> (file, line, text the message must contain, eval's exit code)
EXPECTED: dict[str, tuple[str, int | None, str, int]] = {
    # the entry in the suite file: read before anything else
    "bad_format": (S, 4, "data file 'data/t.csv': format must be one of jsonl, json, csv", 2),
    "limit_zero": (S, 4, "data file 'data/t.csv': limit must be a whole number 1 or more", 2),
    "seed_without_sample": (S, 4, "seed chooses the records of sample: (add sample: N)", 2),
    "unknown_key": (S, 4, "data file 'data/t.csv': unknown key 'column'", 2),
    "unknown_format": (S, 3, "cannot tell its format from the name; set format:", 2),
    "vars_not_fields": (S, 4, "vars maps each variable to a field or column", 2),
    "outside_the_tree": (S, 3, "data file '../t.csv': refused: a data file is a path inside", 2),
    "no_such_file": (S, 3, "data file 'data/missing.csv': no such file", 2),
    "no_records": (S, 5, "data file 'data/t.csv' holds no records", 2),
    # the mapping against the records: at the data file's line
    "missing_column": ("data/t.csv", 1, "vars: ticket: no column 'body' in the header", 2),
    "missing_expected": ("data/t.csv", 1, "expected: no column 'answer' in the header", 2),
    "missing_field": ("data/t.jsonl", 2, "vars: ticket: the record has no field 'body'", 2),
    "empty_name": ("data/t.csv", 3, "name: the 'id' field is empty", 2),
    "duplicate_name": ("data/t.csv", 4, "duplicate case name 't1'", 2),
    "duplicate_inline_name": ("data/t.jsonl", 1, "duplicate case name 't1'", 2),
    # records the readers refuse
    "malformed_jsonl": ("data/t.jsonl", 2, "invalid JSON: Expecting ',' delimiter", 2),
    "not_an_array": ("data/t.json", 1, "expected a JSON array of records", 2),
    "short_row": ("data/t.tsv", 3, "missing column(s) 'body' (the row has 1 of 2 fields)", 2),
    # read, but not the prompt's variables: check names the case, eval fails it
    "extra_column": ("data/t.csv", 2, "unknown variable(s): priority", 1),
}


def test_corpus_is_complete() -> None:
    assert {p.name for p in (CORPUS / "datasets").iterdir()} == set(EXPECTED)


def load(repo: GitRepo, name: str) -> None:
    src = CORPUS / "datasets" / name
    for f in sorted(src.rglob("*")):
        if f.is_file():
            rel = f.relative_to(src).as_posix()
            dest = repo.path / (SUITE if rel == "summarize.tests.yaml" else rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    repo.commit(f"corpus: {name}")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_data_entry_check_and_eval(sample_repo: GitRepo, cli: Any, name: str) -> None:
    path, line, text, code = EXPECTED[name]
    load(sample_repo, name)
    where = f"{path}:{line}: " if line else f"{path}: "

    r = cli(["check", SUITE], cwd=sample_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    assert errors[0].startswith(where.replace(": ", ": error: ", 1)) and text in errors[0], errors[
        0
    ]

    e = cli(["eval", "support/summarize", "--model", "echo", "--no-log"], cwd=sample_repo.path)
    assert "Traceback" not in e.err
    assert e.exit_code == code, e.out + e.err
    if code == 2:
        assert e.out == ""
        lines = e.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"loomgit: error: {where}"), e.err
        assert text in lines[0]
    else:
        assert text in e.out, e.out
