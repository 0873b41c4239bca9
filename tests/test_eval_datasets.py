"""Suite cases from data files (CSV, TSV, JSON Lines, JSON arrays) on real repositories:
the mapping, limit and seeded samples, inline cases beside them, file and line in the
JSON report and JUnit, the tracked-file rule, and a data-file change counted as a change
to its suite by `eval --compare`, `--changed`, `ci` and the commit hooks."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import GitRepo

PROMPT = """---
model: echo
variables:
  ticket: {type: string, required: true}
  n: {type: integer, default: 1}
---
Ticket: {{ ticket }} (x{{ n }})
"""
PROMPT_PATH = "prompts/support/summarize.prompt"
SUITE_PATH = "prompts/support/summarize.tests.yaml"

ROWS = [("t1", "printer on fire", "fire", 2), ("t2", "coffee, spilled", "coffee", 3)]
CSV = "id,body,answer,count\n" + "".join(f'{i},"{b}",{a},{n}\n' for i, b, a, n in ROWS)
TSV = "id\tbody\tanswer\tcount\n" + "".join(f"{i}\t{b}\t{a}\t{n}\n" for i, b, a, n in ROWS)
RECORDS = [{"id": i, "body": b, "answer": a, "count": n} for i, b, a, n in ROWS]
JSONL = "".join(json.dumps(r) + "\n" for r in RECORDS)
JSON_ARRAY = "[\n" + ",\n".join(json.dumps(r) for r in RECORDS) + "\n]\n"


def suite(entry: str, inline: bool = True) -> str:
    head = "providers: [echo]\ncases:\n"
    case = "  - name: inline\n    vars: {ticket: by hand}\n    assert: [{contains: hand}]\n"
    return head + (case if inline else "") + entry


def entry(file: str, extra: str = "") -> str:
    return (
        f"  - file: {file}\n    vars: {{ticket: body, n: count}}\n    expected: answer\n"
        f"    name: id\n    assert: [{{contains: Ticket}}]\n{extra}"
    )


def eval_json(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    r = cli(["eval", "support/summarize", "--no-log", "--json", *args], cwd=repo.path)
    return r.exit_code, (json.loads(r.out) if r.out else {}), r.err


@pytest.fixture
def ds_repo(repo: GitRepo) -> GitRepo:
    repo.commit("prompt", {PROMPT_PATH: PROMPT})
    return repo


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("golden.csv", CSV),
        ("golden.tsv", TSV),
        ("golden.jsonl", JSONL),
        ("golden.json", JSON_ARRAY),
    ],
)
def test_every_format_gives_the_same_cases_with_their_file_and_line(
    ds_repo: GitRepo, cli: Any, name: str, text: str
) -> None:
    ds_repo.commit("data", {f"data/{name}": text, SUITE_PATH: suite(entry(f"data/{name}"))})
    code, data, err = eval_json(cli, ds_repo)
    assert code == 0, err
    got = [(r["case"], r["file"], r["line"], r["output"]) for r in data["results"]]
    first = 1 if name.endswith(".jsonl") else 2  # after the header row, after "["
    assert got == [
        ("inline", SUITE_PATH, 3, "Ticket: by hand (x1)"),
        ("t1", f"data/{name}", first, "Ticket: printer on fire (x2)"),
        ("t2", f"data/{name}", first + 1, "Ticket: coffee, spilled (x3)"),
    ]
    assert data["summary"]["cases"] == 3 and data["summary"]["passed"] == 3


def test_without_vars_every_field_but_name_and_expected_is_a_variable(
    ds_repo: GitRepo, cli: Any
) -> None:
    ds_repo.commit(
        "data",
        {
            "data/t.jsonl": '{"ticket": "a", "answer": "x"}\n{"ticket": "b", "answer": "y"}\n',
            SUITE_PATH: suite(
                "  - file: data/t.jsonl\n    expected: answer\n"
                "    assert: [{similar: {threshold: 0.0}}]\n",
                inline=False,
            ),
        },
    )
    code, data, err = eval_json(cli, ds_repo)
    assert code == 0, err
    assert [(r["case"], r["output"]) for r in data["results"]] == [
        ("t.jsonl:1", "Ticket: a (x1)"),
        ("t.jsonl:2", "Ticket: b (x1)"),
    ]


def big_csv(n: int) -> str:
    return "id,body\n" + "".join(f"r{i},ticket {i}\n" for i in range(n))


def names(data: dict[str, Any]) -> list[str]:
    return [r["case"] for r in data["results"]]


def test_limit_then_a_seeded_sample_is_the_same_on_every_run(ds_repo: GitRepo, cli: Any) -> None:
    def run(extra: str) -> list[str]:
        e = "  - file: data/big.csv\n    vars: {ticket: body}\n    name: id\n" + extra
        ds_repo.write({SUITE_PATH: suite(e, inline=False)})
        code, data, err = eval_json(cli, ds_repo)
        assert code == 0, err
        return names(data)

    ds_repo.commit("data", {"data/big.csv": big_csv(200)})
    assert run("    limit: 3\n") == ["r0", "r1", "r2"]
    a = run("    sample: 10\n    seed: 7\n")
    assert len(a) == 10 and len(set(a)) == 10
    assert a == sorted(a, key=lambda s: int(s[1:]))  # in file order
    assert run("    sample: 10\n    seed: 7\n") == a  # deterministic
    b = run("    sample: 10\n    seed: 8\n")
    assert b != a and len(b) == 10
    assert run("    sample: 10\n") == run("    sample: 10\n    seed: 0\n")  # seed 0 by default
    within = run("    limit: 20\n    sample: 5\n    seed: 7\n")
    assert len(within) == 5 and all(int(s[1:]) < 20 for s in within)
    assert len(run("    sample: 500\n")) == 200  # a sample larger than the file: all of it
    # every record is as likely: over many seeds each of 20 records is chosen about half
    # the time (10 of 20), never always or never
    ds_repo.commit("small", {"data/big.csv": big_csv(20)})
    from loomgit.evals.data_source import worktree_opener
    from loomgit.evals.dataset_model import Dataset
    from loomgit.evals.datasets import dataset_cases

    counts: dict[str, int] = {}
    opener = worktree_opener(ds_repo.path)
    for seed in range(200):
        ds = Dataset("data/big.csv", 1, 0, vars={"ticket": "body"}, name="id", sample=10, seed=seed)
        for c in dataset_cases(SUITE_PATH, ds, opener):
            counts[c.name] = counts.get(c.name, 0) + 1
    assert set(counts) == {f"r{i}" for i in range(20)}
    assert all(60 <= v <= 140 for v in counts.values()), counts


def test_inline_cases_keep_their_place_beside_data_files(ds_repo: GitRepo, cli: Any) -> None:
    text = (
        "providers: [echo]\ncases:\n"
        "  - name: first\n    vars: {ticket: one}\n"
        "  - file: data/a.csv\n    vars: {ticket: body}\n    name: id\n"
        "  - name: middle\n    vars: {ticket: two}\n"
        "  - file: data/b.jsonl\n    name: id\n"
        "  - name: last\n    vars: {ticket: three}\n"
    )
    ds_repo.commit(
        "data",
        {
            "data/a.csv": "id,body\na1,x\na2,y\n",
            "data/b.jsonl": '{"id": "b1", "ticket": "z"}\n',
            SUITE_PATH: text,
        },
    )
    code, data, err = eval_json(cli, ds_repo)
    assert code == 0, err
    assert names(data) == ["first", "a1", "a2", "middle", "b1", "last"]
    # --case picks a data file's case by name; --shard splits all cases round-robin
    code, data, _ = eval_json(cli, ds_repo, "--case", "a2")
    assert names(data) == ["a2"]
    code, data, _ = eval_json(cli, ds_repo, "--shard", "2/2")
    assert names(data) == ["a1", "middle", "last"]


def test_junit_names_the_data_file_and_line(ds_repo: GitRepo, cli: Any) -> None:
    ds_repo.commit("data", {"data/golden.csv": CSV, SUITE_PATH: suite(entry("data/golden.csv"))})
    out = ds_repo.path / "junit.xml"
    r = cli(["eval", "--no-log", "--junit", str(out)], cwd=ds_repo.path)
    assert r.exit_code == 0, r.err
    cases = {
        tc.get("name"): (tc.get("file"), tc.get("line"))
        for tc in ET.parse(out).getroot().iter("testcase")
    }
    assert cases["t2 [echo]"] == ("data/golden.csv", "3")
    assert cases["inline [echo]"] == (SUITE_PATH, "3")


def test_a_bad_record_stops_the_eval_before_anything_is_sent(ds_repo: GitRepo, cli: Any) -> None:
    bad = CSV + 't3,"never closed,x,1\n'
    ds_repo.commit("data", {"data/golden.csv": bad, SUITE_PATH: suite(entry("data/golden.csv"))})
    r = cli(["eval", "support/summarize"], cwd=ds_repo.path)
    assert r.exit_code == 2 and r.out == ""
    assert r.err.startswith("loomgit: error: data/golden.csv:4: unclosed quote"), r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not (ds_repo.path / ".git/loomgit/runs.sqlite").exists()


# -- the tracked-file rule --------------------------------------------------------------


def test_an_untracked_data_file_is_refused(ds_repo: GitRepo, cli: Any) -> None:
    ds_repo.commit("suite", {SUITE_PATH: suite(entry("data/golden.csv"))})
    ds_repo.write({"data/golden.csv": CSV})  # on disk, never added
    r = cli(["eval", "support/summarize"], cwd=ds_repo.path)
    assert r.exit_code == 2, r.err
    assert r.err.strip() == (
        f"loomgit: error: {SUITE_PATH}:6: data file 'data/golden.csv' is refused: git does "
        "not track it (git add it) (only regular files git tracks in the repository are read)"
    )
    c = cli(["check", SUITE_PATH], cwd=ds_repo.path)
    assert c.exit_code == 1 and f"{SUITE_PATH}:6: error: data file" in c.out


def test_a_tracked_symlink_is_never_followed(ds_repo: GitRepo, cli: Any, tmp_path: Any) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("id,body\ns,SECRET-VALUE\n")
    (ds_repo.path / "data").mkdir()
    os.symlink(secret, ds_repo.path / "data/golden.csv")
    ds_repo.commit("link", {SUITE_PATH: suite(entry("data/golden.csv"))})
    r = cli(["eval", "support/summarize"], cwd=ds_repo.path)
    assert r.exit_code == 2
    assert "data file 'data/golden.csv' is refused: it is a symlink" in r.err
    assert "SECRET" not in r.out + r.err


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd.csv", ".git/config.csv"])
def test_paths_outside_the_tree_are_refused_when_the_suite_is_read(
    ds_repo: GitRepo, cli: Any, path: str
) -> None:
    ds_repo.commit("suite", {SUITE_PATH: suite(entry(path))})
    r = cli(["check", SUITE_PATH], cwd=ds_repo.path)
    assert r.exit_code == 1
    (line,) = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert line.startswith(f"{SUITE_PATH}:6: error: data file {path!r}: refused"), line


# -- a data-file change is a change to its suite ------------------------------------------


@pytest.fixture
def committed(ds_repo: GitRepo) -> GitRepo:
    ds_repo.commit("data", {"data/golden.csv": CSV, SUITE_PATH: suite(entry("data/golden.csv"))})
    return ds_repo


def test_compare_and_changed_evaluate_a_suite_whose_data_file_changed(
    committed: GitRepo, cli: Any
) -> None:
    r = cli(["eval", "--compare", "HEAD", "--json"], cwd=committed.path)
    assert json.loads(r.out)["unchanged_prompts"] == ["support/summarize"]
    assert cli(["eval", "--changed", "--base", "HEAD"], cwd=committed.path).exit_code == 0
    committed.write({"data/golden.csv": CSV + "t3,new ticket,new,1\n"})
    r = cli(["eval", "--compare", "HEAD", "--json"], cwd=committed.path)
    data = json.loads(r.out)
    assert data["unchanged_prompts"] == []
    assert {c["case"]: c["change"] for c in data["cases"]}["t3"] == "same"
    r = cli(["eval", "--changed", "--base", "HEAD", "--json", "--no-log"], cwd=committed.path)
    assert "t3" in names(json.loads(r.out))


def test_ci_evaluates_a_pull_request_that_changes_only_a_data_file(
    committed: GitRepo, cli: Any
) -> None:
    committed.git("checkout", "-q", "-b", "pr")
    committed.commit("more data", {"data/golden.csv": CSV + "t3,new ticket,new,1\n"})
    r = cli(["ci", "--base", "main", "--no-comment", "--json"], cwd=committed.path)
    assert r.out, r.err
    (p,) = json.loads(r.out)["prompts"]
    assert p["id"] == "support/summarize" and p["status"] == "suite"
    t3 = [c for c in p["cases"] if c["case"] == "t3"][0]
    # both sides run the head's cases (as for a changed suite file)
    assert (t3["file"], t3["line"], t3["before"], t3["after"]) == (
        "data/golden.csv",
        4,
        "passed",
        "passed",
    )


def git_commit(repo: GitRepo, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", message],
        cwd=repo.path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_the_commit_hook_checks_a_suite_when_only_its_data_file_is_staged(
    committed: GitRepo, cli: Any
) -> None:
    assert cli(["hooks", "install"], cwd=committed.path).exit_code == 0
    head = committed.git("rev-parse", "HEAD")
    committed.write({"data/golden.csv": CSV + "t3,bad count,x,many\n"})
    committed.git("add", "data/golden.csv")
    res = git_commit(committed, "bad row")
    assert res.returncode != 0
    assert "data/golden.csv:4: error: variable 'n': 'many' is not a whole number" in res.stdout
    assert "Traceback" not in res.stdout
    assert committed.git("rev-parse", "HEAD") == head
    # the staged content is what counts: fixing only the working tree does not pass
    committed.write({"data/golden.csv": CSV})
    assert git_commit(committed, "still bad").returncode != 0
    committed.git("add", "data/golden.csv")
    committed.write({"data/golden.csv": CSV + "t3,ok,x,2\n"})
    committed.git("add", "data/golden.csv")
    res = git_commit(committed, "good row")
    assert res.returncode == 0, res.stdout


def test_the_eval_hook_runs_the_suite_of_a_staged_data_file(committed: GitRepo) -> None:
    from loomgit.app.hooks.offline_eval import run_evals

    committed.write({"data/golden.csv": CSV + "t3,new ticket,new,1\n"})
    committed.git("add", "data/golden.csv")
    report = run_evals(committed.path)
    assert report is not None
    assert [r.case for r in report.results][-1] == "t3"
    committed.git("commit", "-q", "-m", "data")
    committed.write({"README.md": "x\n"})
    committed.git("add", "README.md")
    assert run_evals(committed.path) is None  # nothing a suite reads changed


def test_a_python_assertion_for_a_data_file_is_refused_at_its_entry(
    committed: GitRepo, cli: Any
) -> None:
    text = suite(entry("data/golden.csv").replace("{contains: Ticket}", "{python: m:f}"))
    committed.commit("python", {SUITE_PATH: text})
    r = cli(["eval", "support/summarize"], cwd=committed.path)
    assert r.exit_code == 2 and r.out == ""
    assert r.err.startswith(f"loomgit: error: {SUITE_PATH}:6: python: assertions run local code")


def test_cost_counts_the_cases_of_a_data_file(committed: GitRepo, cli: Any) -> None:
    r = cli(["cost", "support/summarize", "--json"], cwd=committed.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["records"] == 3  # one inline case + two records
