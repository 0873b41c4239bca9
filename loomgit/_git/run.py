"""Running git: one pinned environment, one place that finds the repository, and one
boundary where a failing git command becomes a :class:`GitError` a person can act on.

loomgit shells out to git (as pre-commit, llm and copier do) rather than using a git
library: bulk history passes are one streaming ``git log`` and one ``git cat-file
--batch``, and start-up stays fast because nothing is imported.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from loomgit.errors import GitError

NULL_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# Settings a user's git config could use to change what git prints. loomgit parses
# that output, so every command runs with these pinned (``-c`` beats every config file).
PINNED_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.quotePath", "false"),
    ("color.ui", "false"),
    ("diff.relative", "false"),
    ("diff.noprefix", "false"),
    ("log.showSignature", "false"),
    ("log.follow", "false"),
    ("log.showRoot", "true"),
    ("log.diffMerges", "first-parent"),
    ("log.decorate", "false"),
    ("i18n.logOutputEncoding", "UTF-8"),
)
_PINNED_ARGS = tuple(a for k, v in PINNED_CONFIG for a in ("-c", f"{k}={v}"))
# variables naming a repository path: made absolute, since git runs in another directory
_PATH_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE")
NO_GIT = "git is not installed or not on PATH"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git process gets: C locale (messages loomgit can parse),
    no prompts for credentials, no pager, no optional index writes, and output written
    in blocks: to a pipe, git's log and rev-list otherwise write each commit apart
    (20,000 writes, and as many reads, for a 20,000-commit rev-list). ``cat-file
    --batch`` still answers each request at once."""
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env.pop("LANGUAGE", None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_PAGER"] = "cat"
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_FLUSH"] = "0"
    for var in _PATH_VARS:
        value = env.get(var)
        if value and not os.path.isabs(value):
            env[var] = os.path.abspath(value)
    if env.get("GIT_WORK_TREE") and not env.get("GIT_DIR"):
        # git would find the repository from the current directory, but runs elsewhere
        found = _discover(Path.cwd().resolve())
        if found is not None:
            env["GIT_DIR"] = str(found[1])
    if extra:
        env.update(extra)
    return env


def argv(args: Sequence[str]) -> list[str]:
    """``git`` with the pinned settings, then ``args``."""
    return ["git", *_PINNED_ARGS, *args]


@dataclass(frozen=True)
class Result:
    """A finished git command."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def reason(self) -> str:
        return last_line(self.stderr, self.returncode)


def last_line(stderr: bytes, code: int) -> str:
    """The line of git's stderr that says what went wrong: the last ``fatal:`` or
    ``error:`` line (hints come after it), else the last line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    marked = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    line = (marked or [ln for ln in lines if not ln.startswith("hint:")] or lines or [""])[-1]
    line = line.removeprefix("fatal: ").removeprefix("error: ")
    return line or f"exit status {code}"


# what to do next, for failures whose git message does not say it
_HINTS = (
    (
        "dubious ownership",
        "git trusts only repositories you own: see 'git help config', safe.directory",
    ),
    ("unable to read", "the repository may be damaged: 'git fsck' shows what"),
    ("bad object", "the repository may be damaged: 'git fsck' shows what"),
    ("bad tree object", "the repository may be damaged: 'git fsck' shows what"),
    ("corrupt", "the repository may be damaged: 'git fsck' shows what"),
    ("not a git repository", "run 'git init' first, or cd into one"),
    ("must be run in a work tree", "run loomgit in a clone with a work tree"),
)


def failure(args: Sequence[str], stderr: bytes, code: int) -> GitError:
    """The :class:`GitError` for a failed ``git ARGS``: one line naming the command and
    git's reason, and what to do about it when git does not say."""
    name = next((a for a in args if not a.startswith("-")), "git")
    reason = last_line(stderr, code)
    text = stderr.decode("utf-8", "replace")
    hint = next((h for key, h in _HINTS if key in text), None)
    return GitError(f"git {name} failed: {reason}" + (f" ({hint})" if hint else ""))


def git(
    args: Sequence[str],
    root: str | Path,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Result:
    """Run ``git ARGS`` in ``root``; with ``check`` a failure raises :class:`GitError`."""
    try:
        proc = subprocess.run(
            argv(args), cwd=root, input=input, capture_output=True, env=environment(env)
        )
    except FileNotFoundError as e:
        raise GitError(NO_GIT) from e
    except NotADirectoryError as e:
        raise GitError(f"{root} is not a directory") from e
    if check and proc.returncode != 0:
        raise failure(args, proc.stderr, proc.returncode)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run(
    args: Sequence[str], root: str | Path, *, input: bytes | None = None, check: bool = True
) -> bytes:
    """Standard output of ``git ARGS`` (see :func:`git`)."""
    return git(args, root, input=input, check=check).stdout


def text(
    args: Sequence[str], root: str | Path, *, input: bytes | None = None, check: bool = True
) -> str:
    """Standard output of ``git ARGS`` as text."""
    return git(args, root, input=input, check=check).out


def spawn(
    args: Sequence[str], root: str | Path, *, stdin: bool = False, stderr: IO[bytes] | int
) -> subprocess.Popen[bytes]:
    """A running ``git ARGS`` whose output the caller streams (history's passes)."""
    try:
        return subprocess.Popen(
            argv(args),
            cwd=root,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=environment(),
        )
    except FileNotFoundError as e:
        raise GitError(NO_GIT) from e


# --- where the repository is ----------------------------------------------------------


@dataclass(frozen=True)
class Location:
    git_dir: Path  # this work tree's git dir (a worktree has its own)
    common_dir: Path  # the git dir shared by all worktrees: refs, objects, loomgit's data
    bare: bool


def _read_gitfile(dot: Path) -> Path | None:
    try:
        line = dot.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not line.startswith("gitdir:"):
        return None
    return (dot.parent / line[len("gitdir:") :].strip()).resolve()


def _common(gd: Path) -> Path:
    common = os.environ.get("GIT_COMMON_DIR")
    if common:
        return Path(os.path.abspath(common))
    try:
        rel = (gd / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return gd
    return (gd / rel).resolve() if rel else gd


def _is_git_dir(p: Path) -> bool:
    """A repository's git dir, or a linked worktree's (its objects are in ``commondir``)."""
    if not (p / "HEAD").is_file():
        return False
    return ((p / "objects").is_dir() and (p / "refs").is_dir()) or (p / "commondir").is_file()


def _core(gd: Path) -> dict[str, str]:
    """``core.*`` settings of a git dir's own config file (lower-cased keys), read
    without running git: enough to tell a bare repository and a ``core.worktree``."""
    try:
        lines = (gd / "config").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    out: dict[str, str] = {}
    section = ""
    for raw in lines:
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]").strip().lower()
        elif section == "core" and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip().lower()] = v.strip().strip('"')
        elif section == "core" and line:
            out[line.lower()] = "true"
    return out


def _is_bare(gd: Path) -> bool:
    return _core(gd).get("bare", "").lower() in ("true", "yes", "on", "1")


def _discover(start: Path) -> tuple[Path | None, Path] | None:
    """(work tree top, git dir) git finds from ``start`` upwards: a folder holding
    ``.git`` (a directory, or the file a worktree or submodule has), or a bare repository
    (no work tree)."""
    for d in (start, *start.parents):
        dot = d / ".git"
        if dot.is_dir():
            return d, dot
        if dot.is_file():
            linked = _read_gitfile(dot)
            return d, linked if linked is not None else dot  # a broken one: not a repo
        if d.name != ".git" and _is_git_dir(d) and _is_bare(d):
            return None, d
    return None


def work_tree(start: str | Path | None = None) -> Path | None:
    """The top of the work tree as git decides it (see ``git help repository-layout``):
    ``$GIT_WORK_TREE``; else, with ``$GIT_DIR``, its ``core.worktree`` or the current
    directory; else the folder holding the ``.git`` found from ``start`` upwards. A bare
    repository gives its own folder (:func:`require_repo` then names it as bare). None
    outside git."""
    env_tree = os.environ.get("GIT_WORK_TREE")
    if env_tree:
        return Path(os.path.abspath(env_tree))
    env_dir = os.environ.get("GIT_DIR")
    if env_dir:
        gd = Path(os.path.abspath(env_dir))
        core = _core(gd)
        if core.get("worktree"):
            return (gd / core["worktree"]).resolve()
        return gd if _is_bare(gd) else Path.cwd().resolve()
    found = _discover(Path(start or os.getcwd()).resolve())
    if found is None:
        return None
    top, gd = found
    worktree = _core(gd).get("worktree")
    if worktree:
        return (gd / worktree).resolve()
    return top if top is not None else gd


def locate(root: str | Path) -> Location | None:
    """Where ``root``'s repository is, without running git: ``$GIT_DIR`` when set (as
    git itself decides; bare when its config says so and no work tree is given), else
    ``root/.git`` (a directory, or the file a worktree or submodule has), else the git dir
    found from the current directory when ``$GIT_WORK_TREE`` names ``root``, else
    ``root`` itself when it is a bare repository."""
    root = Path(root)
    env_dir = os.environ.get("GIT_DIR")
    if env_dir:
        gd = Path(os.path.abspath(env_dir))
        if not _is_git_dir(gd):
            return None
        bare = _is_bare(gd) and not os.environ.get("GIT_WORK_TREE")
        return Location(gd, _common(gd), bare)
    dot = root / ".git"
    if dot.is_dir():
        return Location(dot, _common(dot), False)
    if dot.is_file():
        linked = _read_gitfile(dot)
        if linked is None or not linked.is_dir():
            return None
        return Location(linked, _common(linked), False)
    if os.environ.get("GIT_WORK_TREE"):
        found = _discover(Path.cwd().resolve())
        if found is not None and found[1].is_dir():
            return Location(found[1], _common(found[1]), False)
    if _is_git_dir(root):
        return Location(root, _common(root), True)
    return None


def is_repo(root: str | Path) -> bool:
    """Whether ``root`` is the work tree of a git repository."""
    loc = locate(root)
    return loc is not None and not loc.bare


def bare_message(path: str | Path) -> str:
    return (
        f"{path} is a bare repository: run loomgit in a clone with a work tree (git clone {path})"
    )


def refuse_bare(root: str | Path) -> None:
    """Raise when ``root`` is a bare repository: it has no work tree to read files from."""
    loc = locate(root)
    if loc is not None and loc.bare:
        raise GitError(bare_message(loc.git_dir))


def require_repo(root: str | Path) -> None:
    refuse_bare(root)
    if locate(root) is None:
        raise GitError(f"{root} is not a git repository (run 'git init' first, or cd into one)")


def git_dir(root: str | Path) -> Path | None:
    """The repository's common git dir (shared by its worktrees), or None outside git."""
    loc = locate(root)
    return loc.common_dir if loc is not None else None


def toplevel(path: str | Path) -> Path | None:
    """The top of the work tree holding ``path``, or None outside one."""
    res = git(["rev-parse", "--show-toplevel"], path, check=False)
    out = res.out.strip()
    return Path(out) if res.ok and out else None


def git_path(root: str | Path, name: str) -> Path:
    """Where git keeps ``name`` (``hooks``, ...), honouring ``core.hooksPath`` and worktrees."""
    out = text(["rev-parse", "--git-path", name], root).strip()
    p = Path(out)
    return p if p.is_absolute() else Path(root) / p


def is_shallow(root: str | Path) -> bool:
    """Whether the repository is a shallow clone (git's own test: a ``shallow`` file in
    the common git dir)."""
    loc = locate(root)
    if loc is None:
        return text(["rev-parse", "--is-shallow-repository"], root, check=False).strip() == "true"
    return (loc.common_dir / "shallow").is_file()


def user(root: str | Path) -> str:
    """``Name <email>`` of the configured git user (``unknown`` when unset)."""
    name = config_value(root, "user.name") or ""
    email = config_value(root, "user.email") or ""
    return f"{name} <{email}>" if name or email else "unknown"


def config_value(root: str | Path, key: str) -> str | None:
    """The value of git setting ``key``, or None when it is not set."""
    res = git(["config", "--get", key], root, check=False)
    return res.out.strip() if res.ok else None


NO_IDENTITY = (
    "git has no user identity for the promotion commit; set it with "
    "git config user.name / user.email"
)


def identity(root: str | Path) -> str:
    """``Name <email>`` git will write as the author (environment first, then config)."""
    res = git(["var", "GIT_AUTHOR_IDENT"], root, check=False)
    ident = res.out.strip()
    if not res.ok or ">" not in ident:
        raise GitError(NO_IDENTITY)
    return ident[: ident.rindex(">") + 1]
