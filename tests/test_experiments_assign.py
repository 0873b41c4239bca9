"""Assignment: the same unit always gets the same variant (across objects and processes),
and 100,000 simulated units split as the weights say, within sampling error."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, GitRepo
from scipy import stats as sps

import loomgit
from loomgit.experiments import assign

UNITS = [f"user-{i}" for i in range(100_000)]


def _experiment_repo(
    repo: GitRepo, weights: dict[str, int] | None, name: str = "split", salt: str | None = None
) -> GitRepo:
    from conftest import SUMMARIZE

    lines = ["prompt: support/summarize", "variants:"]
    for v, w in (weights or {"control": 0, "treatment": 0}).items():
        lines.append(
            f"  {v}: {{ref: support/summarize, weight: {w}}}"
            if weights
            else f"  {v}: support/summarize"
        )
    lines += ["metric: rate", "min_samples: 100"]
    if salt is not None:
        lines.append(f"salt: {salt}")
    repo.write(
        {
            "prompts/support/summarize.prompt": SUMMARIZE,
            f"experiments/{name}.yaml": "\n".join(lines) + "\n",
        }
    )
    return repo


def _split(edges: list[float], name: str, salt: str = "") -> list[int]:
    return [assign.choose(edges, assign.bucket(name, u, salt)) for u in UNITS]


@pytest.mark.parametrize(
    "weights",
    [
        {"control": 50, "treatment": 50},
        {"control": 90, "treatment": 10},
        {"a": 70, "b": 20, "c": 10},
        {"a": 1, "b": 1, "c": 1, "d": 97},
    ],
)
def test_weight_fidelity_over_100000_units(weights: dict[str, int]) -> None:
    edges = assign.boundaries(list(weights.values()))
    got = _split(edges, "fidelity")
    counts = [got.count(i) for i in range(len(weights))]
    total = sum(weights.values())
    for count, w in zip(counts, weights.values()):
        p = w / total
        sd = math.sqrt(len(UNITS) * p * (1 - p))
        assert abs(count - len(UNITS) * p) < 4.5 * sd, (counts, weights)
    expected = [len(UNITS) * w / total for w in weights.values()]
    assert sps.chisquare(counts, expected).pvalue > 1e-4


def test_assignment_is_deterministic_across_objects_and_processes(
    repo: GitRepo, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _experiment_repo(repo, {"control": 3, "treatment": 1})
    monkeypatch.chdir(repo.path)
    first = loomgit.experiment("split")
    second = loomgit.experiment("split", repo.path)
    sample = UNITS[:2000]
    names = [first.variant_name(u) for u in sample]
    assert names == [second.variant_name(u) for u in sample]
    assert [first.assign(u).name for u in sample[:50]] == names[:50]
    # a fresh interpreter with another hash seed gives exactly the same answers
    code = (
        "import json, sys, loomgit\n"
        "exp = loomgit.experiment('split')\n"
        "print(json.dumps([exp.variant_name(u) for u in json.load(sys.stdin)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo.path,
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        env={**_env(), "PYTHONHASHSEED": "123"},
        check=True,
    ).stdout
    assert json.loads(out) == names
    # integer ids are the same units as their text
    assert first.variant_name(12345) == first.variant_name("12345")
    first.close()
    second.close()


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_experiments_split_independently_and_salt_reshuffles() -> None:
    edges = assign.boundaries([1, 1])
    a = _split(edges, "exp-a")
    b = _split(edges, "exp-b")
    salted = _split(edges, "exp-a", salt="round-2")
    for other in (b, salted):
        agree = sum(x == y for x, y in zip(a, other)) / len(UNITS)
        assert abs(agree - 0.5) < 4.5 * math.sqrt(0.25 / len(UNITS))
    assert a == _split(edges, "exp-a")


def test_the_bucket_is_pinned() -> None:
    # changing the hash would silently move every running experiment's users: the scheme
    # is sha256("experiment\0salt\0unit"), first 8 bytes big-endian, over 2**64
    import hashlib

    digest = hashlib.sha256(b"summary-tone\0\0user-1").digest()
    assert assign.bucket("summary-tone", "user-1") == int.from_bytes(digest[:8], "big") / 2**64
    assert assign.bucket("summary-tone", "user-1") == pytest.approx(0.93214415198870, abs=1e-12)
    assert assign.boundaries([50, 30, 20]) == pytest.approx([0.5, 0.8, 1.0])
    assert assign.choose([0.5, 1.0], 0.5) == 1 and assign.choose([0.5, 1.0], 0.4999) == 0


def test_bad_unit_ids_are_refused(repo: GitRepo) -> None:
    _experiment_repo(repo, None)
    exp = loomgit.experiment("split", repo.path)
    for bad in ("", None, True):
        with pytest.raises(loomgit.LoomgitError, match="unit id"):
            exp.variant_name(bad)  # type: ignore[arg-type]
    exp.close()


def test_cli_assign_agrees_with_the_library(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    _experiment_repo(repo, {"control": 1, "treatment": 1})
    r = cli(["experiment", "assign", "split", "u1", "u2", "u3", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    exp = loomgit.experiment("split", repo.path)
    got = json.loads(r.out)
    assert {u: v["variant"] for u, v in got.items()} == {
        u: exp.variant_name(u) for u in ("u1", "u2", "u3")
    }
    assert got["u1"]["ref"] == "support/summarize"
    exp.close()
    assert Path(repo.path / "experiments/split.yaml").is_file()


def test_a_a_experiments_find_false_winners_about_5_percent_of_the_time() -> None:
    # hashed assignment + the z-test, end to end: with no real difference, p < 0.05 in
    # about 5% of experiments (300 experiments of 4,000 units: 15 expected, sd ~3.8)
    from loomgit.experiments import stats

    edges = assign.boundaries([1, 1])
    arms = [assign.choose(edges, assign.bucket("a-a", u)) for u in UNITS[:4000]]
    false = 0
    for seed in range(300):
        rng = random.Random(seed)
        x, n = [0, 0], [0, 0]
        for arm in arms:
            n[arm] += 1
            x[arm] += rng.random() < 0.2
        false += stats.two_proportions(x[0], n[0], x[1], n[1], 0.95).p_value < 0.05
    assert 4 <= false <= 30, false
