"""`loomgit experiment conclude --promote` as a team uses it: production holds 1.0.0,
1.1.0 is on staging, live traffic is split between them, and the winner goes to
production through `loomgit promote`, with the experiment's figures in the commit."""

from __future__ import annotations

import json

import pytest
from conftest import SUMMARIZE, GitRepo

import loomgit

pytest.importorskip("loomgit.stages", reason="stages are not part of this tree yet")

SPEC = """\
prompt: support/summarize
variants:
  control: "@production"
  treatment: support/summarize@1.1.0
metric: {type: rate, name: resolved}
min_samples: 300
"""


@pytest.fixture
def team_repo(repo: GitRepo, cli) -> GitRepo:  # type: ignore[no-untyped-def]
    repo.commit("add summarize", {"prompts/support/summarize.prompt": SUMMARIZE})
    for stage in ("staging", "production"):
        assert (
            cli(["promote", "support/summarize", "1.0.0", "--to", stage], cwd=repo.path).exit_code
            == 0
        )
    repo.commit(
        "summarize: two sentences",
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "Summarize this ticket:", "Summarize in two sentences:"
            )
        },
    )
    assert (
        cli(["promote", "support/summarize", "1.1.0", "--to", "staging"], cwd=repo.path).exit_code
        == 0
    )
    repo.commit("experiment", {"experiments/tone.yaml": SPEC})
    return repo


def _traffic(repo: GitRepo, rates: dict[str, float], users: int = 1000) -> None:
    with loomgit.experiment("tone", repo.path) as exp:
        for i in range(users):
            v = exp.assign(f"user-{i}")
            # deterministic "truth": user i succeeds when its fractional slot is below the rate
            exp.record(v, f"user-{i}", success=(i * 0.6180339887) % 1.0 < rates[v.name])


def _production(repo: GitRepo) -> dict[str, str]:
    from loomgit.stages import stage_versions
    from loomgit.workspace import Workspace

    return stage_versions(Workspace(repo.path)).get("production", {})


def test_variants_serve_their_versions(team_repo: GitRepo) -> None:
    with loomgit.experiment("tone", team_repo.path) as exp:
        v = exp.variants
        assert (v["control"].version, v["treatment"].version) == ("1.0.0", "1.1.0")
        assert "two sentences" in v["treatment"].render({"ticket": "x"})[-1]["content"]
        assert "two sentences" not in v["control"].render({"ticket": "x"})[-1]["content"]


def test_conclude_promotes_the_winner_with_its_figures(team_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    _traffic(team_repo, {"control": 0.30, "treatment": 0.55})
    st = json.loads(cli(["experiment", "status", "tone", "--json"], cwd=team_repo.path).out)
    assert st["winner"] == "treatment"
    assert {v["name"]: v["versions"] for v in st["variants"]} == {
        "control": {"1.0.0": st["variants"][0]["n"]},
        "treatment": {"1.1.0": st["variants"][1]["n"]},
    }
    head, status = team_repo.git("rev-parse", "HEAD"), team_repo.git("status", "--porcelain")
    r = cli(["experiment", "conclude", "tone", "--promote"], cwd=team_repo.path)
    assert r.exit_code == 0, r.err
    assert r.out.startswith("winner: treatment (support/summarize@1.1.0, version 1.1.0)")
    assert "promoted support/summarize 1.1.0 to production" in r.out
    assert _production(team_repo) == {"support/summarize": "1.1.0"}
    body = team_repo.git("log", "-1", "--format=%B", "stage/production")
    assert body.startswith("promote support/summarize 1.1.0 to production")
    assert "Experiment tone: treatment beats control" in body
    assert "control (support/summarize@production, 1.0.0): " in body
    p = st["comparisons"][0]["p_value"]
    trailers = dict(
        line.split(": ", 1)
        for line in team_repo.git(
            "log", "-1", "--format=%(trailers:only,unfold)", "stage/production"
        ).splitlines()
    )
    assert trailers["Experiment"] == "tone" and trailers["Experiment-Winner"] == "treatment"
    assert float(trailers["Experiment-P-Value"]) == pytest.approx(p, rel=1e-2)
    assert trailers["Version"] == "1.1.0" and "Forced" not in trailers
    # the working tree, index and HEAD are never touched
    assert team_repo.git("rev-parse", "HEAD") == head
    assert team_repo.git("status", "--porcelain") == status


def test_no_winner_promotes_nothing(team_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    _traffic(team_repo, {"control": 0.40, "treatment": 0.40})
    before = team_repo.git("rev-parse", "stage/production")
    r = cli(["experiment", "conclude", "tone", "--promote", "--json"], cwd=team_repo.path)
    assert r.exit_code == 1
    out = json.loads(r.out)
    assert out["verdict"] == "no_difference" and out["promotion"] is None
    assert team_repo.git("rev-parse", "stage/production") == before


def test_a_control_win_keeps_production(team_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    _traffic(team_repo, {"control": 0.60, "treatment": 0.30})
    before = team_repo.git("rev-parse", "stage/production")
    r = cli(["experiment", "conclude", "tone", "--promote", "--json"], cwd=team_repo.path)
    assert r.exit_code == 0, r.err
    out = json.loads(r.out)
    assert out["winner"] == "control" and out["version"] == "1.0.0"
    assert out["promotion"]["noop"] is True
    assert team_repo.git("rev-parse", "stage/production") == before


def test_stage_order_is_kept_unless_forced(team_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    # 1.2.0 never went to staging: promoting it to production needs --force, recorded
    team_repo.commit(
        "summarize: three sentences",
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "Summarize this ticket:", "Summarize in three sentences:"
            ),
            "experiments/tone.yaml": SPEC.replace("@1.1.0", "@1.2.0"),
        },
    )
    _traffic(team_repo, {"control": 0.30, "treatment": 0.55})
    r = cli(["experiment", "conclude", "tone", "--promote"], cwd=team_repo.path)
    assert r.exit_code == 1 and "has not been on staging" in r.err and "--force" in r.err
    assert _production(team_repo) == {"support/summarize": "1.0.0"}
    r = cli(["experiment", "conclude", "tone", "--promote", "--force"], cwd=team_repo.path)
    assert r.exit_code == 0, r.err
    assert _production(team_repo) == {"support/summarize": "1.2.0"}
    assert "Forced: yes" in team_repo.git("log", "-1", "--format=%B", "stage/production")


def test_uncommitted_winner_cannot_be_promoted(team_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    team_repo.write(
        {
            "experiments/tone.yaml": SPEC.replace("support/summarize@1.1.0", "support/summarize"),
            "prompts/support/summarize.prompt": SUMMARIZE + "\nBe brief.\n",
        }
    )
    _traffic(team_repo, {"control": 0.30, "treatment": 0.55})
    r = cli(["experiment", "conclude", "tone", "--promote"], cwd=team_repo.path)
    assert r.exit_code == 1
    assert "ran uncommitted version 1.2.0-dev" in r.err and r.err.count("\n") == 1
    assert _production(team_repo) == {"support/summarize": "1.0.0"}
