"""The GitHub Actions environment: the ``GITHUB_*`` variables and the event file, read
into a frozen :class:`ActionsEnv`, with one-line errors for a broken event file."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomgit.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # OWNER/NAME


class EventError(UsageError):
    """The event file (``GITHUB_EVENT_PATH``) is missing or malformed."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    base_repo: str
    head_repo: str | None  # None when the fork was deleted

    @property
    def from_fork(self) -> bool:
        return self.head_repo is None or self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class ActionsEnv:
    """What loomgit needs from a GitHub Actions job, read from the environment."""

    in_actions: bool = False
    event_name: str | None = None
    event_path: str | None = None
    repository: str | None = None
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    run_id: str | None = None
    run_attempt: str | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    sha: str | None = None
    step_summary: str | None = None
    output: str | None = None
    pull_request: PullRequest | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionsEnv:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        repository = get("GITHUB_REPOSITORY")
        if repository is not None and not REPO_RE.match(repository):
            raise UsageError(f"GITHUB_REPOSITORY={repository!r} is not OWNER/NAME")
        api_url = (get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        server_url = (get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
        for name, url in (("GITHUB_API_URL", api_url), ("GITHUB_SERVER_URL", server_url)):
            if not re.match(r"^https?://[^\s/]+", url):
                raise UsageError(f"{name}={url!r} is not an http(s) URL")
        event_path = get("GITHUB_EVENT_PATH")
        pr = None
        if event_path is not None:
            pr = pull_request_from_event(load_event(event_path), event_path, repository)
        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            event_name=get("GITHUB_EVENT_NAME"),
            event_path=event_path,
            repository=repository,
            api_url=api_url,
            server_url=server_url,
            run_id=get("GITHUB_RUN_ID"),
            run_attempt=get("GITHUB_RUN_ATTEMPT"),
            base_ref=get("GITHUB_BASE_REF"),
            head_ref=get("GITHUB_HEAD_REF"),
            sha=get("GITHUB_SHA"),
            step_summary=get("GITHUB_STEP_SUMMARY"),
            output=get("GITHUB_OUTPUT"),
            pull_request=pr,
            token=get("GITHUB_TOKEN"),
        )

    @property
    def run_url(self) -> str | None:
        """The run's page, where the job summary is shown."""
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        if self.run_attempt and self.run_attempt != "1":
            url += f"/attempts/{self.run_attempt}"
        return url


def load_event(path: str) -> dict[str, Any]:
    """The webhook payload GitHub wrote for this run."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventError("GITHUB_EVENT_PATH names a file that does not exist", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EventError(f"cannot read the event file: {e}", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise EventError(
            f"the event file is not valid JSON: {e.msg}", path=path, line=e.lineno
        ) from None
    if not isinstance(data, dict):
        raise EventError("the event file must hold a JSON object", path=path, line=1)
    return data


def pull_request_from_event(
    event: Mapping[str, Any], path: str = "event", repository: str | None = None
) -> PullRequest | None:
    """The pull request of a ``pull_request``/``pull_request_target`` event (None for
    other events: push, workflow_dispatch...)."""
    pr = event.get("pull_request")
    if pr is None:
        return None

    def bad(what: str) -> EventError:
        return EventError(f"pull_request.{what}", path=path)

    if not isinstance(pr, dict):
        raise bad("must be an object")
    number = pr.get("number", event.get("number"))
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise bad("number must be a positive integer")
    sides: dict[str, dict[str, Any]] = {}
    for side in ("base", "head"):
        s = pr.get(side)
        if not isinstance(s, dict):
            raise bad(f"{side} must be an object with ref and sha")
        sha = s.get("sha")
        if not isinstance(sha, str) or not _SHA_RE.match(sha):
            raise bad(f"{side}.sha must be a full commit id (40 hex digits)")
        ref = s.get("ref")
        if not isinstance(ref, str) or not ref:
            raise bad(f"{side}.ref must be a branch name")
        sides[side] = s

    def full_name(side: str) -> str | None:
        r = sides[side].get("repo")
        name = r.get("full_name") if isinstance(r, dict) else None
        return name if isinstance(name, str) and REPO_RE.match(name) else None

    base_repo = full_name("base") or repository or ""
    return PullRequest(
        number=number,
        base_ref=sides["base"]["ref"],
        base_sha=sides["base"]["sha"],
        head_ref=sides["head"]["ref"],
        head_sha=sides["head"]["sha"],
        base_repo=base_repo,
        head_repo=full_name("head"),
    )
