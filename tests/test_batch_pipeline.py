"""Pipeline files (``pipelines/NAME.yaml``) through ``loomgit check`` and ``loomgit run``:
every bad file in the corpus gives its exact ``file:line`` findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

from loomgit.batch.pipeline import default_quarantine, load_pipeline, parse_pipeline
from loomgit.errors import EXIT_USAGE, LoomgitError
from loomgit.workspace import Workspace

CORPUS = Path(__file__).parent / "corpus" / "batch" / "pipelines"

PROMPT = """---
model: echo/echo
variables:
  review: {type: string}
  stars: {type: integer, required: false, default: 0}
---
Classify: {{ review }}{% if stars %} ({{ stars }} stars){% endif %}
"""

KNOWN = (
    "description, prompt, input, format, map, model, params, concurrency, assert, gate, "
    "suite, output, quarantine, budget, limit"
)
EXPECTED = {
    "unknown_key.yaml": [
        f"1: error: unknown key 'promt' (did you mean 'prompt'?); known: {KNOWN}",
        "1: error: missing required key 'prompt' (ID or ID@REF of the prompt to run)",
    ],
    "missing_required.yaml": [
        "1: error: missing required key 'prompt' (ID or ID@REF of the prompt to run)",
        "1: error: missing required key 'input' (the input file: .jsonl, .json, .csv or .tsv)",
        "1: error: missing required key 'output' (JSON Lines file for passing records)",
    ],
    "bad_values.yaml": [
        "4: error: format: must be one of jsonl, json, csv, tsv",
        "5: error: map: must map variable names to column (or field) names",
        "6: error: params: must be a mapping such as {temperature: 0}",
        "7: error: concurrency: must be a whole number from 1 to 1000",
        "8: error: limit: must be a whole number of records (1 or more)",
        "9: error: suite: must be true or false",
        "10: error: budget: must be an amount in USD (0 or more)",
    ],
    "bad_assert.yaml": [
        "6: error: assert: unknown assertion 'containz' (did you mean 'contains'?)"
    ],
    "bad_gate.yaml": [
        "4: error: gate: unknown gate 'most_pass' (known: all_pass, majority_pass, any_pass, "
        "weighted)"
    ],
    "bad_yaml.yaml": [
        "2: error: invalid YAML: this '[' is never closed (expected ',' or ']', but got ':' at line 3)"
    ],
    "not_mapping.yaml": ["1: error: a pipeline must be a mapping with prompt, input and output"],
    "same_files.yaml": ["4: error: quarantine: must differ from output"],
    "unknown_prompt.yaml": [
        "1: error: prompt: unknown prompt 'reviews/sentimnt'; did you mean reviews/sentiment?"
    ],
    "bad_map_var.yaml": [
        "3: error: map: reviews/sentiment has no variable 'revew' (variables: review, stars)"
    ],
    "missing_input.yaml": ["2: warning: input: data/not-yet.csv does not exist (yet)"],
}


def test_the_corpus_is_covered() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.fixture
def pipe_repo(repo: GitRepo) -> GitRepo:
    repo.commit(
        "prompt",
        {"prompts/reviews/sentiment.prompt": PROMPT, "data/reviews.csv": "id,text\n1,good\n"},
    )
    return repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_each_bad_pipeline_with_file_and_line(
    pipe_repo: GitRepo, cli: Any, name: str
) -> None:
    rel = f"pipelines/{name}"
    pipe_repo.write({rel: (CORPUS / name).read_bytes()})
    r = cli(["check", rel], cwd=pipe_repo.path)
    assert r.out.splitlines() == [f"{rel}:{x}" for x in EXPECTED[name]]
    errors = any(": error: " in x for x in EXPECTED[name])
    assert r.exit_code == (1 if errors else 0)


def test_check_without_paths_includes_pipelines(pipe_repo: GitRepo, cli: Any) -> None:
    pipe_repo.write(
        {
            "pipelines/nested/gate.yml": (CORPUS / "bad_gate.yaml").read_bytes(),
            "pipelines/ok.yaml": "prompt: reviews/sentiment\ninput: data/reviews.csv\n"
            "output: out/x.jsonl\n",
        }
    )
    r = cli(["check"], cwd=pipe_repo.path)
    assert r.exit_code == 1
    assert r.out.splitlines() == [
        "pipelines/nested/gate.yml:4: error: gate: unknown gate 'most_pass' (known: all_pass, "
        "majority_pass, any_pass, weighted)"
    ]


def test_running_a_bad_pipeline_is_one_line_exit_2(pipe_repo: GitRepo, cli: Any) -> None:
    pipe_repo.write({"pipelines/bad.yaml": (CORPUS / "bad_values.yaml").read_bytes()})
    r = cli(["run", "--pipeline", "bad"], cwd=pipe_repo.path)
    assert r.exit_code == EXIT_USAGE
    assert r.err.strip() == (
        "loomgit: error: pipelines/bad.yaml:4: format: must be one of "
        "jsonl, json, csv, tsv (and 6 more; run loomgit check "
        "pipelines/bad.yaml)"
    )
    r = cli(["run", "--pipeline", "nope"], cwd=pipe_repo.path)
    assert r.exit_code == EXIT_USAGE
    assert r.err.strip() == "loomgit: error: no pipeline 'nope' (pipelines: bad)"


def test_pipeline_with_echo_model_and_defaults(pipe_repo: GitRepo, cli: Any) -> None:
    pipe_repo.write(
        {
            "pipelines/echo.yaml": "prompt: reviews/sentiment\n"
            "input: data/reviews.csv\nmap: {review: text}\n"
            "output: out/echo.jsonl\nparams: {temperature: 0}\n"
        }
    )
    ws = Workspace(pipe_repo.path)
    spec = load_pipeline(ws, "echo")
    assert (spec.prompt, spec.map, spec.params, spec.quarantine) == (
        "reviews/sentiment",
        {"review": "text"},
        {"temperature": 0},
        None,
    )
    r = cli(["run", "--pipeline", "echo", "--json"], cwd=pipe_repo.path)
    assert r.exit_code == 0, r.err
    s = json.loads(r.out)
    assert s["counts"]["ok"] == 1
    assert s["quarantine"].endswith("out/echo.quarantine.jsonl")
    rec = json.loads((pipe_repo.path / "out/echo.jsonl").read_text())
    assert rec["output"] == "Classify: good"
    assert rec["lineage"]["params"] == {"temperature": 0}


def test_default_quarantine_names() -> None:
    assert default_quarantine("out/x.jsonl") == "out/x.quarantine.jsonl"
    assert default_quarantine("out/x") == "out/x.quarantine.jsonl"
    assert default_quarantine("x.ndjson") == "x.quarantine.ndjson"


def test_parse_accepts_a_full_pipeline() -> None:
    spec, findings = parse_pipeline(
        "description: d\nprompt: a/b@production\ninput: in.csv\nformat: csv\nmap: {x: y}\n"
        "model: openai/gpt-4o-mini\nparams: {temperature: 0}\nconcurrency: 8\n"
        "assert: [{is_json: true}]\ngate: {weighted: true, threshold: 0.5}\nsuite: false\n"
        "output: o.jsonl\nquarantine: q.jsonl\nbudget: '$2.50'\nlimit: 10\n",
        "pipelines/p.yaml",
    )
    assert findings == [] and spec is not None
    assert spec.budget == 2.5 and spec.limit == 10 and spec.suite is False
    assert spec.gate == {"weighted": True, "threshold": 0.5}
    assert spec.lines["budget"] == 14


def test_pipeline_errors_are_loomgit_errors(pipe_repo: GitRepo) -> None:
    pipe_repo.write({"pipelines/x.yaml": b"prompt: a\n\xff\n"})
    with pytest.raises(LoomgitError) as ei:
        load_pipeline(Workspace(pipe_repo.path), "x")
    assert str(ei.value) == "pipelines/x.yaml: not UTF-8 text"
