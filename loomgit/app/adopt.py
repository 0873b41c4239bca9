"""``loomgit init --adopt``: propose prompt globs for the prompt-like files a repository
already tracks, with what each would list and how far back its history goes.

Only the files git does not ignore are looked at (tracked, and untracked ones: what
``loomgit list`` lists), by name: file contents are never read, and
the history of every proposal comes from one ``git log`` over all of their globs.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from loomgit import _git
from loomgit._git import log as gitlog
from loomgit._git.refs import head_commit
from loomgit.app.scaffold import Written, template, write_new
from loomgit.config import CONFIG_FILE, GlobSpec, glob_regex
from loomgit.errors import UsageError
from loomgit.prompt.discover import SUITE_SUFFIX, list_files, match
from loomgit.prompt.parse import id_problem
from loomgit.schemas import init_files as schema_files

# file names that make a folder one prompt (patterns/<name>/system.md), and their role
FOLDER_PROMPTS = {"system.md": "system", "prompt.md": None}
# suffixes that are prompt files wherever they are
PROMPT_EXTS = (".prompt", ".prompty", ".prompt.yml")
# suffixes that are prompts inside a `prompts/` folder
FOLDER_EXTS = (".md", ".txt")
NOT_PROMPTS = {"readme", "changelog", "license", "contributing", "code_of_conduct", "security"}
SKIP_DIRS = {"node_modules", "vendor", "site-packages"}
# files adoption writes besides loomgit.yaml (never the sample prompt)
ADOPT_FILES = {
    ".github/workflows/loomgit.yml": "workflow.yml",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
}


_Raw = tuple[str, "str | None", str, "str | None"]  # glob, id pattern, kind, role


@dataclass(frozen=True)
class Proposal:
    """One glob entry to write, with the files it would list (in that order of globs)."""

    glob: str
    id: str | None
    kind: str
    role: str | None = None
    paths: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    bad_ids: tuple[tuple[str, str], ...] = ()  # (path, why its id is refused)
    commits: int = 0
    first: str | None = None  # date (YYYY-MM-DD) of the oldest commit touching its files
    docs: tuple[str, ...] = ()  # files it lists that look like documentation (README.md)

    def entry(self) -> str:
        """The ``prompts:`` list item, as YAML (quoted: a glob may start with ``*``)."""
        keys = {"glob": self.glob, "id": self.id, "role": self.role}
        parts = [f"{k}: {json.dumps(v)}" for k, v in keys.items() if v is not None]
        return "{" + ", ".join(parts) + "}" if len(parts) > 1 else json.dumps(self.glob)


@dataclass(frozen=True)
class Adoption:
    tracked: int
    proposals: list[Proposal]
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # id -> its paths

    def config_text(self) -> str:
        """loomgit.yaml: the template with these globs as its ``prompts:``."""
        lines = template("loomgit.yaml").splitlines(keepends=True)
        out: list[str] = []
        skipping = False
        for line in lines:
            if line.startswith("prompts:"):
                out.append("prompts:\n")
                out += [f"  - {p.entry()}\n" for p in self.proposals]
                skipping = True
                continue
            if skipping and line.startswith("  "):
                continue
            skipping = False
            out.append(line)
        return "".join(out)


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0].lower()


def _candidates(names: Sequence[str]) -> list[str]:
    out = []
    for p in names:
        parts = p.split("/")
        if any(d.startswith(".") or d in SKIP_DIRS for d in parts[:-1]):
            continue
        if p.endswith(SUITE_SUFFIX) or any(ch in p for ch in "*?[") or not p.isprintable():
            continue  # a suite, or a name a glob cannot spell
        out.append(p)
    return sorted(out)


def _common_dir(paths: Sequence[str]) -> str:
    dirs = [posixpath.dirname(p) for p in paths]
    common = posixpath.commonpath(dirs) if dirs and all(dirs) else ""
    return f"{common}/" if common else ""


def _folder_globs(files: Sequence[str]) -> list[_Raw]:
    """``patterns/*/system.md`` for a name that is the prompt of two or more folders."""
    groups: dict[tuple[str, str], int] = {}
    for p in files:
        name = posixpath.basename(p)
        parent = posixpath.dirname(p)
        if name in FOLDER_PROMPTS and parent:
            key = (posixpath.dirname(parent), name)
            groups[key] = groups.get(key, 0) + 1
    kept = sorted(key for key, n in groups.items() if n >= 2)
    out: list[_Raw] = []
    for base, name in kept:
        shared = sum(1 for b, _ in kept if b == base) > 1  # system.md and prompt.md side by side
        stem = name.rsplit(".", 1)[0]
        glob = f"{base}/*/{name}" if base else f"*/{name}"
        out.append(
            (glob, "{1}/" + stem if shared else "{1}", f"folders of {name}", FOLDER_PROMPTS[name])
        )
    return out


def _ext_globs(files: Sequence[str]) -> list[_Raw]:
    out: list[_Raw] = []
    for ext in PROMPT_EXTS:
        mine = [p for p in files if p.endswith(ext)]
        if mine:
            out.append((f"{_common_dir(mine)}**/*{ext}", None, f"{ext} files", None))
    return out


def _prompts_folder_globs(files: Sequence[str]) -> list[_Raw]:
    """``.md``/``.txt`` files under each folder named ``prompts`` (its shallowest one)."""
    roots: dict[tuple[str, str], int] = {}
    for p in files:
        parts = p.split("/")
        ext = posixpath.splitext(p)[1]
        if ext not in FOLDER_EXTS or _stem(p) in NOT_PROMPTS or "prompts" not in parts[:-1]:
            continue
        root = "/".join(parts[: parts.index("prompts") + 1])
        roots[(root, ext)] = roots.get((root, ext), 0) + 1
    return [
        (f"{root}/**/*{ext}", None, f"{ext} files under {root}/", None)
        for (root, ext) in sorted(roots)
    ]


def propose(root: Path) -> Adoption:
    """The glob entries for the prompt-like files of ``root`` (not ignored by git), most
    specific first; each lists only the files no earlier entry claims (loomgit's
    first-match rule)."""
    _git.require_repo(root)
    names = list_files(root)  # loomgit's own view: regular files git does not ignore
    files = _candidates(names)
    raw = [*_folder_globs(files), *_ext_globs(files), *_prompts_folder_globs(files)]
    claimed: set[str] = set()
    proposals: list[Proposal] = []
    by_id: dict[str, list[str]] = {}
    for glob, pid, kind, role in raw:
        spec = GlobSpec(glob, pid)
        mine: list[tuple[str, str]] = []
        for p in files:
            if p in claimed:
                continue
            ident = match(spec, p)
            if ident is not None:
                mine.append((p, ident))
        if not mine:
            continue
        claimed.update(p for p, _ in mine)
        for p, ident in mine:
            by_id.setdefault(ident, []).append(p)
        bad = tuple((p, why) for p, i in mine if (why := id_problem(i)) is not None)
        docs = tuple(p for p, _ in mine if _stem(p) in NOT_PROMPTS)
        proposals.append(
            Proposal(
                glob,
                pid,
                kind,
                role,
                tuple(p for p, _ in mine),
                tuple(sorted(i for _, i in mine)),
                bad,
                docs=docs,
            )
        )
    proposals = _with_history(root, proposals)
    dups = {i: ps for i, ps in sorted(by_id.items()) if len(ps) > 1}
    return Adoption(len(names), proposals, dups)


def _with_history(root: Path, proposals: list[Proposal]) -> list[Proposal]:
    """Commits touching each proposal's files and the date of the oldest, from one
    ``git log`` over all of their globs (none in a repository without commits)."""
    if not proposals:
        return proposals
    head = head_commit(root)
    if head is None:
        return proposals
    regexes = [glob_regex(p.glob) for p in proposals]
    counts = [0] * len(proposals)
    first: list[str | None] = [None] * len(proposals)
    stream = gitlog.log(
        root, [head], gitlog.pathspecs(p.glob for p in proposals), first_parent=False
    )
    try:
        for commit in stream:
            paths = {x for c in commit.changes for x in (c.old_path, c.new_path) if x}
            for n, rx in enumerate(regexes):
                if any(rx.match(x) for x in paths):
                    counts[n] += 1
                    day = commit.date[:10]
                    first[n] = day if first[n] is None else min(day, first[n] or day)
    finally:
        stream.close()
    return [replace(p, commits=counts[n], first=first[n]) for n, p in enumerate(proposals)]


def write(root: Path, adoption: Adoption) -> list[Written]:
    """Write loomgit.yaml (never over an existing one) and the hook config and workflow
    that do not exist yet."""
    if (root / CONFIG_FILE).exists():
        raise UsageError(f"{CONFIG_FILE} already exists; not overwritten")
    written = [write_new(root, CONFIG_FILE, adoption.config_text())]
    written += [write_new(root, rel, template(name)) for rel, name in ADOPT_FILES.items()]
    return written + [write_new(root, rel, text) for rel, text in schema_files().items()]
