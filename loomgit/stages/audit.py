"""The stage branch's log as an audit trail: promotions, and commits nobody should trust.

Every commit loomgit writes on a stage branch ends with trailers::

    Prompt: support/summarize
    Version: 1.2.0
    Source-Commit: 3f1c...
    Promoted-By: Ada Tester <ada@example.com>
    Forced: yes            (only when the stage order was overridden)
    Rollback-Of: 1.3.0     (only for rollbacks)

A commit without them was made by hand (``git commit`` on the stage branch, a merge...)
and is reported, never silently trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomgit._git import log as gitlog
from loomgit._git.objects import tree_files

REQUIRED = ("Prompt", "Version", "Source-Commit")
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*?)\s*$")
_FORMAT = "%x01%H%x00%P%x00%aI%x00%an <%ae>%x00%B"


@dataclass(frozen=True)
class StageCommit:
    sha: str
    parents: tuple[str, ...]
    date: str
    author: str
    subject: str
    body: str
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def by_loomgit(self) -> bool:
        return all(self.trailers.get(k) for k in REQUIRED) and len(self.parents) <= 1


@dataclass(frozen=True)
class Promotion:
    """One promotion (or rollback) commit on a stage branch."""

    stage: str
    id: str
    version: str
    commit: str  # the stage commit
    source_commit: str
    promoted_by: str
    date: str
    forced: bool = False
    rollback_of: str | None = None
    subject: str = ""
    trailers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "id": self.id,
            "version": self.version,
            "commit": self.commit,
            "source_commit": self.source_commit,
            "promoted_by": self.promoted_by,
            "date": self.date,
            "forced": self.forced,
            "rollback_of": self.rollback_of,
            "subject": self.subject,
        }


def parse_trailers(body: str) -> dict[str, str]:
    """Trailers of the last paragraph of a commit message (first value of each key)."""
    paras = [p for p in re.split(r"\n[ \t]*\n", body.strip()) if p.strip()]
    if len(paras) < 2:
        return {}
    out: dict[str, str] = {}
    for line in paras[-1].splitlines():
        m = _TRAILER.match(line)
        if not m:
            return {}
        out.setdefault(m.group(1), m.group(2))
    return out


def read_log(root: str | Path, ref: str, limit: int | None = None) -> list[StageCommit]:
    """Commits of a stage branch, newest first (every commit, merges included)."""
    data = gitlog.formatted(root, ref, _FORMAT, limit)
    commits = []
    for rec in data.split("\x01"):
        if not rec.strip():
            continue
        parts = rec.split("\x00", 4)
        if len(parts) < 5:
            continue
        sha, parents, date, author, body = parts
        body = body.rstrip("\n")
        commits.append(
            StageCommit(
                sha,
                tuple(parents.split()),
                date,
                author,
                body.split("\n", 1)[0],
                body,
                parse_trailers(body),
            )
        )
    return commits


def as_promotion(stage: str, c: StageCommit) -> Promotion | None:
    if not c.by_loomgit:
        return None
    t = c.trailers
    return Promotion(
        stage=stage,
        id=t["Prompt"],
        version=t["Version"],
        commit=c.sha,
        source_commit=t["Source-Commit"],
        promoted_by=t.get("Promoted-By", c.author),
        date=c.date,
        forced=t.get("Forced", "").lower() == "yes",
        rollback_of=t.get("Rollback-Of") or None,
        subject=c.subject,
        trailers=dict(t),
    )


def promotions(stage: str, log: list[StageCommit], ident: str | None = None) -> list[Promotion]:
    """Promotions in ``log`` (newest first), of one prompt when ``ident`` is given."""
    out = []
    for c in log:
        p = as_promotion(stage, c)
        if p is not None and (ident is None or p.id == ident):
            out.append(p)
    return out


def hand_commits(log: list[StageCommit]) -> list[StageCommit]:
    return [c for c in log if not c.by_loomgit]


def tree_problems(root: str | Path, head: str, expected: Mapping[str, str]) -> list[str]:
    """How the head commit's tree differs from what its manifest says it holds."""
    actual = tree_files(root, head)
    problems = []
    for path in sorted(set(actual) | set(expected)):
        a, e = actual.get(path), expected.get(path)
        if a == e:
            continue
        if e is None:
            problems.append(f"{path} is on the branch but not in the manifest")
        elif a is None:
            problems.append(f"{path} is in the manifest but missing from the branch")
        else:
            problems.append(f"{path} differs from the version the manifest names")
    return problems
