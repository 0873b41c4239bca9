"""Recording outcomes and reading the status back, as an application and a user do: the
library API, the CLI, the SQLite store under concurrency (8 processes x 10,000 outcomes
lose none), and the rules for which store is used."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT, SUMMARIZE, GitRepo
from scipy import stats as sps

import loomgit
from loomgit.experiments.store import redact

RATE = """\
prompt: support/summarize
variants:
  control: support/summarize
  treatment: support/summarize
metric: {type: rate, name: resolved}
min_samples: 50
"""
MEAN = """\
prompt: support/summarize
variants:
  control: {ref: support/summarize, weight: 3}
  treatment: {ref: support/summarize, weight: 1}
metric: {type: mean, name: csat}
min_samples: 20
"""


@pytest.fixture
def exp_repo(repo: GitRepo) -> GitRepo:
    repo.commit(
        "prompt and experiments",
        {
            "prompts/support/summarize.prompt": SUMMARIZE,
            "experiments/tone.yaml": RATE,
            "experiments/csat.yaml": MEAN,
        },
    )
    return repo


def _db(repo: GitRepo) -> Path:
    return repo.path / ".git/loomgit/experiments.sqlite"


def _rows(repo: GitRepo) -> int:
    with sqlite3.connect(_db(repo)) as db:
        n = db.execute("SELECT COUNT(*) FROM loomgit_outcomes").fetchone()[0]
    db.close()
    return int(n)


def test_assign_render_record_and_status(exp_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    truth = {"control": 0.3, "treatment": 0.6}
    with loomgit.experiment("tone", exp_repo.path) as exp:
        seen: dict[str, list[bool]] = {"control": [], "treatment": []}
        for i in range(400):
            v = exp.assign(f"user-{i}")
            messages = v.render({"ticket": "VPN down"})
            assert messages[-1] == {"role": "user", "content": "Summarize this ticket: VPN down"}
            ok = rng.random() < truth[v.name]
            exp.record(v, f"user-{i}", success=ok)
            seen[v.name].append(ok)
    r = cli(["experiment", "status", "tone", "--json"], cwd=exp_repo.path)
    assert r.exit_code == 0, r.err
    st = json.loads(r.out)
    by = {v["name"]: v for v in st["variants"]}
    for name, outcomes in seen.items():
        assert by[name]["n"] == len(outcomes)
        assert by[name]["successes"] == sum(outcomes)
        assert by[name]["estimate"] == pytest.approx(sum(outcomes) / len(outcomes))
        ci = sps.binomtest(sum(outcomes), len(outcomes)).proportion_ci(method="wilson")
        assert by[name]["ci"] == pytest.approx([ci.low, ci.high])
    c = st["comparisons"][0]
    _, p, _, _ = sps.chi2_contingency(
        [
            [sum(seen["control"]), len(seen["control"]) - sum(seen["control"])],
            [sum(seen["treatment"]), len(seen["treatment"]) - sum(seen["treatment"])],
        ],
        correction=False,
    )
    assert c["p_value"] == pytest.approx(p) and c["test"] == "two-proportion z-test"
    assert st["verdict"] == "winner" and st["winner"] == "treatment" and st["ready"] is True
    assert st["store"] == "sqlite:///" + str(_db(exp_repo).resolve())
    assert set(st) == {
        "experiment",
        "path",
        "prompt",
        "metric",
        "confidence",
        "min_samples",
        "promote_to",
        "store",
        "variants",
        "comparisons",
        "ready",
        "verdict",
        "winner",
        "message",
        "warnings",
    }
    text = cli(["experiment", "status", "tone"], cwd=exp_repo.path)
    assert text.exit_code == 0
    assert "treatment vs control: +" in text.out and "(two-proportion z-test)" in text.out
    assert "verdict: treatment beats control: +" in text.out and "(95% confidence)" in text.out


def test_mean_metric_matches_python_and_scipy(exp_repo: GitRepo) -> None:
    rng = random.Random(5)
    values: dict[str, list[float]] = {"control": [], "treatment": []}
    with loomgit.experiment("csat", exp_repo.path) as exp:
        for i in range(300):
            name = exp.variant_name(i)
            x = rng.gauss(4.0 if name == "control" else 4.3, 0.8)
            exp.record(name, i, value=x)
            values[name].append(x)
        st = exp.status()
    assert st.variant("control").n > 2 * st.variant("treatment").n  # the 3:1 weights
    for name, xs in values.items():
        v = st.variant(name)
        assert v.estimate == pytest.approx(statistics.mean(xs), rel=1e-12)
        assert v.std == pytest.approx(statistics.stdev(xs), rel=1e-9)
    ref = sps.ttest_ind(values["treatment"], values["control"], equal_var=False)
    assert st.comparisons[0].p_value == pytest.approx(ref.pvalue, rel=1e-7)
    assert st.comparisons[0].df == pytest.approx(ref.df, rel=1e-9)


def test_no_verdict_before_the_minimum_sample(exp_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    with loomgit.experiment("tone", exp_repo.path) as exp:
        for i in range(60):
            name = exp.variant_name(i)
            exp.record(name, i, success=name == "treatment")  # a huge difference already
    st = json.loads(cli(["experiment", "status", "tone", "--json"], cwd=exp_repo.path).out)
    assert min(v["n"] for v in st["variants"]) < 50
    assert st["verdict"] == "collecting" and st["winner"] is None
    assert st["comparisons"][0]["p_value"] is None and st["comparisons"][0]["difference"] == 1.0
    text = cli(["experiment", "status", "tone"], cwd=exp_repo.path).out
    assert "p-value held back until 50 per variant" in text
    assert "verdict: collecting:" in text and "p = " not in text
    assert cli(["experiment", "conclude", "tone", "--promote"], cwd=exp_repo.path).exit_code == 1


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"value": 0.5}, "measures a success rate of resolved; record success=True|False"),
        ({}, "give exactly one of success= or value="),
        ({"success": True, "value": 1.0}, "give exactly one of success= or value="),
        ({"success": "yes"}, "success must be True or False"),
    ],
)
def test_bad_rate_records_are_refused(exp_repo: GitRepo, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with loomgit.experiment("tone", exp_repo.path) as exp:
        exp.record(exp.variant_name("u0"), "u0", success=True)
        with pytest.raises(loomgit.LoomgitError, match=message.replace("|", r"\|")):
            exp.record(exp.variant_name("u1"), "u1", **kwargs)
    assert _rows(exp_repo) == 1


def test_records_under_the_wrong_variant_or_bad_values_are_refused(exp_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    with loomgit.experiment("csat", exp_repo.path) as exp:
        right = exp.variant_name("u1")
        wrong = "treatment" if right == "control" else "control"
        with pytest.raises(
            loomgit.LoomgitError, match=f"unit 'u1' is assigned to '{right}', not '{wrong}'"
        ):
            exp.record(wrong, "u1", value=1.0)
        with pytest.raises(loomgit.LoomgitError, match="has no variant 'nope'"):
            exp.record("nope", "u1", value=1.0)
        for bad in (float("nan"), float("inf"), True, "3"):
            with pytest.raises(loomgit.LoomgitError, match="value must be a finite number"):
                exp.record(right, "u1", value=bad)  # type: ignore[arg-type]
        with pytest.raises(loomgit.LoomgitError, match="measures the mean of csat"):
            exp.record(right, "u1", success=True)
    assert not _db(exp_repo).exists() or _rows(exp_repo) == 0
    r = cli(["experiment", "record", "csat", "u1", "--success"], cwd=exp_repo.path)
    assert r.exit_code == 1 and r.err.strip().endswith(
        "measures the mean of csat; record value=NUMBER"
    )
    ok = cli(["experiment", "record", "csat", "u1", "--value", "4.5"], cwd=exp_repo.path)
    assert ok.exit_code == 0 and ok.out.strip() == f"recorded u1 -> {right}"
    assert _rows(exp_repo) == 1


def test_threads_sharing_one_experiment_lose_nothing(exp_repo: GitRepo) -> None:
    exp = loomgit.experiment("tone", exp_repo.path)

    def work(k: int) -> None:
        for i in range(500):
            unit = f"t{k}-{i}"
            exp.record(exp.variant_name(unit), unit, success=i % 3 == 0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = exp.status()
    exp.close()
    assert sum(v.n for v in st.variants) == 2000


WORKER = """
import sys, loomgit
k, n = int(sys.argv[1]), int(sys.argv[2])
with loomgit.experiment("tone") as exp:
    variants = exp.variants  # resolve once, as an application does
    for i in range(n):
        unit = f"p{k}-u{i}"
        exp.record(exp.assign(unit), unit, success=(i * 7 + k) % 4 == 0)
print("done", k)
"""


def test_eight_processes_recording_10000_outcomes_each_lose_none(exp_repo: GitRepo) -> None:
    n = 10_000
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(k), str(n)],
            cwd=exp_repo.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(8)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [o[1][-500:] for o in outs]
    assert _rows(exp_repo) == 8 * n
    with sqlite3.connect(_db(exp_repo)) as db:
        distinct = db.execute("SELECT COUNT(DISTINCT unit) FROM loomgit_outcomes").fetchone()[0]
        succ = db.execute("SELECT SUM(outcome) FROM loomgit_outcomes").fetchone()[0]
    db.close()
    assert distinct == 8 * n
    assert succ == sum((i * 7 + k) % 4 == 0 for k in range(8) for i in range(n))
    with loomgit.experiment("tone", exp_repo.path) as exp:
        st = exp.status()
    assert sum(v.n for v in st.variants) == 8 * n


def test_store_choice_and_precedence(exp_repo: GitRepo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = exp_repo.path
    with loomgit.experiment("tone", path) as exp:
        assert exp.store_url == "sqlite:///" + str(_db(exp_repo).resolve())
    exp_repo.write({"loomgit.yaml": "experiments: {store: 'sqlite:///from-config.sqlite'}\n"})
    with loomgit.experiment("tone", path) as exp:
        assert exp.store_url == "sqlite:///from-config.sqlite"
        exp.record(exp.variant_name("a"), "a", success=True)
    assert (path / "from-config.sqlite").is_file()  # relative to the repository root
    exp_repo.write({"experiments/tone.yaml": RATE + "store: sqlite:///spec.sqlite\n"})
    with loomgit.experiment("tone", path) as exp:
        assert exp.store_url == "sqlite:///spec.sqlite"
    monkeypatch.setenv("LOOMGIT_EXPERIMENTS_URL", "sqlite:////tmp/elsewhere.sqlite")
    with loomgit.experiment("tone", path) as exp:
        assert exp.store_url == "sqlite:////tmp/elsewhere.sqlite"
    with loomgit.experiment("tone", path, store="sqlite:///arg.sqlite") as exp:
        assert exp.store_url == "sqlite:///arg.sqlite"
    monkeypatch.setenv("LOOMGIT_EXPERIMENTS_URL", "redis://x")
    with pytest.raises(loomgit.LoomgitError, match="unknown kind 'redis'"):
        loomgit.experiment("tone", path)


def test_worktrees_share_the_store(exp_repo: GitRepo) -> None:
    wt = exp_repo.path.parent / "wt"
    exp_repo.git("worktree", "add", "-q", str(wt))
    with loomgit.experiment("tone", wt) as exp:
        assert exp.store_url == "sqlite:///" + str(_db(exp_repo).resolve())


def test_unwritable_store_is_one_line_exit_3(exp_repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = cli(
        [
            "experiment",
            "record",
            "tone",
            "u1",
            "--success",
            "--store",
            f"sqlite:///{blocker}/x.sqlite",
        ],
        cwd=exp_repo.path,
    )
    assert r.exit_code == 3, r.err
    assert (
        r.err.startswith("loomgit: error: cannot open the experiment store")
        and r.err.count("\n") == 1
    )
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    r = cli(["experiment", "status", "tone", "--store", f"sqlite:///{garbage}"], cwd=exp_repo.path)
    assert r.exit_code == 3 and "file is not a database" in r.err


def test_passwords_never_show() -> None:
    assert (
        redact("postgresql://app:s3cret@db.example:5432/exp")
        == "postgresql://app:***@db.example:5432/exp"
    )
    assert redact("postgresql://app@db/exp") == "postgresql://app@db/exp"


def test_batches_write_at_the_end_or_not_at_all(exp_repo: GitRepo) -> None:
    with loomgit.experiment("tone", exp_repo.path) as exp:
        with exp.batch() as b:
            for i in range(1000):
                b.record(exp.variant_name(i), i, success=i % 2 == 0)
            assert len(b) == 1000
            assert not _db(exp_repo).exists() or _rows(exp_repo) == 0  # nothing yet
        assert _rows(exp_repo) == 1000
        with pytest.raises(RuntimeError), exp.batch() as b:
            b.record(exp.variant_name("x"), "x", success=True)
            raise RuntimeError("the worker died")
        with pytest.raises(loomgit.LoomgitError, match="is assigned to"), exp.batch() as b:
            b.record(exp.variant_name("y"), "y", success=True)
            wrong = "control" if exp.variant_name("z") == "treatment" else "treatment"
            b.record(wrong, "z", success=True)
        assert sum(v.n for v in exp.status().variants) == 1000
