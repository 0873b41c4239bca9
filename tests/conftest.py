"""Shared fixtures: isolated git identity and config, real repositories in tmp_path,
and an in-process CLI runner that goes through loomgit's own error handling."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from github_api import FakeGitHub

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads the user's git config, home or API keys."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text('[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k, v in {
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LOOMGIT_HOME", str(home / "loomgit"))
    monkeypatch.setenv("NO_COLOR", "1")
    # a test suite run from a git hook must not point every test's git at that repository
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    for key in list(os.environ):
        if key.endswith("_API_KEY") or key.startswith(("GITHUB_", "LOOMGIT_BUNDLE")):
            monkeypatch.delenv(key, raising=False)


class GitRepo:
    """A real git repository in tmp_path with tiny helpers to write and commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True)
        if check and proc.returncode:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout.strip()

    def write(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            p = self.path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | bytes] | None = None) -> str:
        """Write ``files`` (if any), stage everything, commit; returns the new sha."""
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """An empty git repository on branch main."""
    return GitRepo(tmp_path / "repo")


@dataclass
class Result:
    exit_code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``cli(args, cwd=path)`` runs loomgit in-process, through its error handler."""
    from loomgit.cli import main

    def run(args: list[str], cwd: Path | None = None) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            code = main(list(args))
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)

    return run


SUMMARIZE = """---
description: Summarize a support ticket
model: openai/gpt-4o-mini
params: {temperature: 0.2, max_tokens: 300}
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
sample: {ticket: "Printer on floor 3 is on fire"}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

user:
Summarize this ticket: {{ ticket }}
"""


def to_production(cli, repo: GitRepo, ident: str = "summarize", version: str = "1.0.0") -> None:  # type: ignore[no-untyped-def]
    """Promote ``ident`` ``version`` to staging, then to production, each of which must
    succeed (promotion order: production takes what staging holds)."""
    for args in ([ident, version, "--to", "staging"], [ident, "staging", "--to", "production"]):
        r = cli(["promote", *args], cwd=repo.path)
        assert r.exit_code == 0, r.err


@pytest.fixture
def sample_repo(repo: GitRepo) -> Iterator[GitRepo]:
    """A repository with one committed prompt, prompts/support/summarize.prompt."""
    repo.commit("add summarize prompt", {"prompts/support/summarize.prompt": SUMMARIZE})
    yield repo


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """The fake GitHub REST API on 127.0.0.1 (tests/github_api.py): comments, artifacts."""
    fake = FakeGitHub().start()
    try:
        yield fake
    finally:
        fake.stop()
