"""Experiment files: every bad file in tests/corpus/experiments gives one clear
file:line error through `loomgit check` and through the commands that load it; good files
pass `loomgit check` (with or without paths) and parse into what they say."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import CORPUS, SUMMARIZE, GitRepo

import loomgit
from loomgit.experiments.spec import load_spec
from loomgit.workspace import Workspace

# file -> (expected line or None, text the message must contain)
EXPECTED = {
    "malformed_yaml.yaml": (4, "invalid YAML: this '[' is never closed"),
    "not_mapping.yaml": (1, "an experiment must be a mapping"),
    "empty.yaml": (None, "empty experiment file"),
    "one_variant.yaml": (2, "variants must map at least two names to refs"),
    "unknown_key.yaml": (7, "unknown key 'confidnce' (did you mean 'confidence'?)"),
    "bad_weight.yaml": (6, "variant 'treatment': weight must be a number above 0"),
    "mixed_weights.yaml": (2, "give every variant a weight, or none"),
    "bad_metric.yaml": (5, "metric must be 'rate' or 'mean', not 'median'"),
    "bad_direction.yaml": (8, "metric: direction must be 'higher' or 'lower'"),
    "missing_min_samples.yaml": (1, "min_samples is required"),
    "min_samples_one.yaml": (6, "min_samples must be a whole number, 2 or more"),
    "bad_confidence.yaml": (7, "confidence must be a number from 0.5 up to"),
    "unknown_stage.yaml": (7, "promote_to must be a stage (staging, production), not 'prod'"),
    "bad_store.yaml": (7, "unknown kind 'mysql'; use sqlite:///PATH or postgresql://"),
    "other_prompt.yaml": (4, "'support/triage@1.0.0' is not a version of 'support/summarize'"),
    "at_without_prompt.yaml": (2, "'@production' needs 'prompt:'"),
    "bad_variant_name.yaml": (4, "variant name 'new tone' must use letters"),
    "unknown_prompt.yaml": (
        3,
        "unknown prompt 'support/sumarize'; did you mean support/summarize?",
    ),
    "duplicate_variant.yaml": (4, "invalid YAML"),
    "non_utf8.yaml": (2, "not UTF-8 text"),
}

GOOD = """\
prompt: support/summarize
description: Does a casual tone resolve more tickets?
variants:            # the first is the control
  control: {ref: "@production", weight: 80}
  treatment: {ref: support/summarize@1.4.0, weight: 20}
metric: {type: mean, name: csat, direction: higher}
min_samples: 500
confidence: 0.9
promote_to: staging
store: sqlite:///data/outcomes.sqlite
salt: round-2
"""


def test_corpus_is_complete() -> None:
    assert {p.name for p in (CORPUS / "experiments").iterdir()} == set(EXPECTED)


@pytest.fixture
def corpus_repo(repo: GitRepo) -> GitRepo:
    repo.write({"prompts/support/summarize.prompt": SUMMARIZE})
    shutil.copytree(CORPUS / "experiments", repo.path / "experiments")
    return repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_one_clear_line(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = EXPECTED[name]
    r = cli(["check", f"experiments/{name}"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    where = f"experiments/{name}:{line}: " if line else f"experiments/{name}: "
    assert errors[0].startswith(where), errors[0]
    assert text in errors[0], errors[0]
    assert "Traceback" not in r.out + r.err


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n != "unknown_prompt.yaml"))
def test_status_refuses_a_bad_file_in_one_line(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = EXPECTED[name]
    r = cli(["experiment", "status", name.removesuffix(".yaml")], cwd=corpus_repo.path)
    assert r.exit_code == 1 and r.out == ""
    err = r.err.strip()
    assert "\n" not in err and err.startswith(f"loomgit: error: experiments/{name}"), err
    assert text in err
    assert not (corpus_repo.path / ".git/loomgit/experiments.sqlite").exists()  # nothing written


def test_check_without_paths_includes_experiments(corpus_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["check", "--json"], cwd=corpus_repo.path)
    assert r.exit_code == 1
    paths = {f["path"] for f in json.loads(r.out)["findings"]}
    assert paths == {f"experiments/{n}" for n in EXPECTED}


def test_a_good_file_checks_and_parses(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write({"experiments/tone.yaml": GOOD})
    r = cli(["check"], cwd=sample_repo.path)
    # the refs name a stage and a version this repository does not have yet: warnings only
    assert r.exit_code == 0, r.out + r.err
    assert all(": warning: " in ln for ln in r.out.splitlines())
    assert (
        "experiments/tone.yaml:5: warning: variant 'treatment': support/summarize@1.4.0 "
        "does not resolve yet" in r.out
    )
    spec = load_spec(Workspace(sample_repo.path), "tone")
    assert [(v.name, v.ref, v.weight) for v in spec.variants] == [
        ("control", "support/summarize@production", 0.8),
        ("treatment", "support/summarize@1.4.0", 0.2),
    ]
    assert (
        spec.metric.type,
        spec.metric.name,
        spec.min_samples,
        spec.confidence,
        spec.promote_to,
        spec.store,
        spec.salt,
    ) == ("mean", "csat", 500, 0.9, "staging", "sqlite:///data/outcomes.sqlite", "round-2")
    assert spec.control.name == "control"


def test_unknown_experiment_names_the_close_one(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write({"experiments/summary-tone.yaml": GOOD})
    r = cli(["experiment", "status", "summary-tnoe"], cwd=sample_repo.path)
    assert r.exit_code == 1
    assert r.err.strip() == (
        "loomgit: error: no experiment 'summary-tnoe' "
        "(experiments/summary-tnoe.yaml not found); did you mean 'summary-tone'?"
    )
    with pytest.raises(loomgit.LoomgitError, match="no experiment 'nope'"):
        loomgit.experiment("nope", sample_repo.path)


def test_experiments_settings_in_loomgit_yaml(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write(
        {
            "loomgit.yaml": "experiments: {dir: ab/tests, store: 'sqlite:///ab.sqlite'}\n",
            "ab/tests/tone.yaml": GOOD.replace("store: sqlite:///data/outcomes.sqlite\n", ""),
            "experiments/ignored.yaml": "not: an experiment\n",
        }
    )
    assert cli(["check"], cwd=sample_repo.path).exit_code == 0
    exp = loomgit.experiment("tone", sample_repo.path)
    assert exp.store_url == "sqlite:///ab.sqlite"
    exp.close()
    sample_repo.write({"loomgit.yaml": "experiments: {folder: x}\n"})
    r = cli(["check"], cwd=sample_repo.path)
    assert r.exit_code == 2 and "experiments: unknown setting 'folder'" in r.err


def test_list_shows_good_files_and_warns_about_broken_ones(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(["experiment", "list"], cwd=sample_repo.path).out.startswith("no experiments")
    sample_repo.write(
        {
            "experiments/tone.yaml": GOOD,
            "experiments/broken.yaml": "prompt: support/summarize\nvariants: 3\n",
        }
    )
    r = cli(["experiment", "list", "--json"], cwd=sample_repo.path)
    assert r.exit_code == 1
    assert json.loads(r.out) == [
        {
            "name": "tone",
            "path": "experiments/tone.yaml",
            "prompt": "support/summarize",
            "metric": {"type": "mean", "name": "csat", "direction": "higher"},
            "min_samples": 500,
            "variants": {
                "control": "support/summarize@production",
                "treatment": "support/summarize@1.4.0",
            },
        }
    ]
    assert r.err.startswith("loomgit: warning: experiments/broken.yaml:2: variants must map")
