"""Twenty ``loomgit promote`` processes at once on one stage: compare-and-swap with retry
means every promotion lands as its own commit and none is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import GitRepo

N = 20


@pytest.mark.slow  # 20 interpreters on a shared 2-core machine: ~10 s
def test_twenty_concurrent_promotions_all_land(repo: GitRepo) -> None:
    repo.commit(
        "twenty prompts",
        {f"prompts/p{i:02d}.prompt": f"user:\nPrompt number {i}\n" for i in range(N)},
    )
    repo.write({"prompts/p00.prompt": "user:\nuncommitted\n"})
    before = repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD")
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loomgit",
                "promote",
                f"p{i:02d}",
                "1.0.0",
                "--to",
                "staging",
                "--json",
            ],
            cwd=repo.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    commits = repo.git("rev-list", "stage/staging").splitlines()
    assert len(commits) == N
    assert sorted(r["commit"] for r in results) == sorted(commits)
    # a single line of history: each commit built on the one before it
    assert repo.git("rev-list", "--max-parents=0", "stage/staging") == commits[-1]
    assert repo.git("rev-list", "--min-parents=2", "stage/staging") == ""
    manifest = json.loads(repo.git("show", "stage/staging:loomgit.stage.json"))
    assert sorted(manifest["prompts"]) == [f"p{i:02d}" for i in range(N)]
    files = repo.git("ls-tree", "-r", "--name-only", "stage/staging").splitlines()
    assert len(files) == N + 1
    promoted = repo.git("log", "--format=%(trailers:key=Prompt,valueonly)", "stage/staging")
    assert sorted(x for x in promoted.split() if x) == [f"p{i:02d}" for i in range(N)]
    assert (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD")) == before
