from __future__ import annotations

from conftest import GitRepo


def test_render_sample_in_real_repo(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["render", "support/summarize"], cwd=sample_repo.path)
    assert r.exit_code == 0, r.err
    assert "Summarize this ticket: Printer on floor 3 is on fire" in r.out
    assert "formal tone" in r.out
