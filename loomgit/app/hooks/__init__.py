"""Commit-time guards: the logic behind loomgit's git hooks and pre-commit hooks.

* :func:`check_files` validates the *staged* content of prompt and suite files (what the
  commit will hold, read from the index with one ``git cat-file --batch``) and renders
  each changed prompt with its ``sample`` and with the ``vars`` of every case of its suite.
* :func:`protect` refuses commits made by hand on stage branches.
* :func:`update_message` / :func:`apply_trailers` write the ``Prompt-Version:`` trailers
  of the prompts a commit changes into its message.
* :func:`run_evals` runs the suites of changed prompts offline (replay mode).
* :func:`install` / :func:`uninstall` manage the plain scripts of ``hooks/`` in
  ``.git/hooks`` (or ``core.hooksPath``).

Nothing here touches the network, and nothing is printed: the CLI formats the results.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from loomgit import gitio
from loomgit.config import CONFIG_FILE
from loomgit.errors import LoomgitError, UsageError
from loomgit.findings import Finding, error
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.config import Config
    from loomgit.evals.results import EvalReport
    from loomgit.evals.runner import Target
    from loomgit.history import Pending
    from loomgit.prompt.render import IncludeLoader

HOOK_NAMES = ("pre-commit", "prepare-commit-msg")
MARKER = "# loomgit-hook:"  # second line of every script loomgit installs
BACKUP_SUFFIX = ".pre-loomgit"
TRAILER_KEY = "Prompt-Version"
SOURCES = ("index", "worktree")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: a root commit's base


# --------------------------------------------------------------------------- reading


def read_index(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """Staged content of ``paths`` (those in the index), in one ``git cat-file --batch``."""
    wanted = [p for p in dict.fromkeys(paths) if p and "\n" not in p]
    if not wanted:
        return {}
    # ":0:" names stage 0 explicitly, so a path such as "1:notes.md" is not read as a stage
    request = "".join(f":0:{p}\n" for p in wanted).encode("utf-8", "surrogateescape")
    out = gitio.run(["cat-file", "--batch"], root, input=request)
    found: dict[str, bytes] = {}
    pos = 0
    for p in wanted:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode("utf-8", "replace")
        pos = nl + 1
        parts = header.rsplit(" ", 2)
        if len(parts) != 3 or not parts[2].isdigit():  # "<name> missing" / "ambiguous"
            continue
        size = int(parts[2])
        if parts[1] == "blob":
            found[p] = out[pos : pos + size]
        pos += size + 1
    return found


def staged_paths(root: Path) -> list[str]:
    """Paths added, copied, modified or renamed in the index (what the commit changes)."""
    out = gitio.run(["diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT"], root)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def index_loader(root: Path) -> IncludeLoader:
    """Include loader reading included files from the index."""
    cache: dict[str, str | None] = {}

    def load(name: str) -> str | None:
        if name not in cache:
            data = read_index(root, [name]).get(name)
            try:
                cache[name] = data.decode("utf-8") if data is not None else None
            except UnicodeDecodeError:
                cache[name] = None
        return cache[name]

    return load


def _related(path: str) -> list[str]:
    """Files that checking ``path`` needs besides itself: its suite, or a suite's prompt."""
    from loomgit.prompt.discover import PROMPT_SUFFIXES, SUITE_SUFFIX, is_suite

    if is_suite(path):
        base = path[: -len(SUITE_SUFFIX)]
        return [base + s for s in PROMPT_SUFFIXES]
    return [re.sub(r"\.[^./]+$", "", path) + SUITE_SUFFIX]


class Snapshot(Workspace):
    """A workspace over a temporary folder holding only the files a hook checks."""

    def __init__(self, root: Path, loader: IncludeLoader) -> None:
        self.root = root
        self._loader = loader

    @cached_property
    def loader(self) -> IncludeLoader:
        return self._loader


@contextmanager
def snapshot(root: Path, paths: Sequence[str], source: str = "index") -> Iterator[Snapshot]:
    """A :class:`Snapshot` of ``paths``, their suites or prompts, and ``loomgit.yaml``,
    taken from the index (``source="index"``) or the working tree."""
    if source not in SOURCES:
        raise UsageError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    wanted = list(dict.fromkeys([CONFIG_FILE, *paths, *(r for p in paths for r in _related(p))]))
    if source == "index":
        data = read_index(root, wanted)
        loader = index_loader(root)
    else:
        from loomgit.prompt.discover import fs_loader

        data = {}
        for rel in wanted:
            full = root / rel
            if full.is_file():
                try:
                    data[rel] = full.read_bytes()
                except OSError:
                    continue
        loader = fs_loader(root)
    with tempfile.TemporaryDirectory(prefix="loomgit-hook-") as tmp:
        base = Path(tmp).resolve()
        for rel, content in data.items():
            target = base / rel
            if base not in target.resolve().parents:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        yield Snapshot(base, loader)


# --------------------------------------------------------------------------- check


@dataclass(frozen=True)
class CheckResult:
    """What ``loomgit-check`` found: findings, the files checked, renders performed."""

    findings: list[Finding]
    checked: list[str] = field(default_factory=list)
    renders: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def ok(self, strict: bool = False) -> bool:
        return not (self.errors or (strict and self.findings))


def _suite_renders(
    ws: Workspace, prompt_rel: str, prompt_id: str | None, suite_rel: str
) -> tuple[list[Finding], int]:
    """Render the prompt with each suite case's vars; a failure is a finding on the case."""
    from loomgit.evals.suite import parse_suite
    from loomgit.prompt.parse import decode, read_prompt
    from loomgit.prompt.render import render_prompt, resolve_variables

    try:
        prompt = read_prompt(ws.root / prompt_rel, display=prompt_rel, prompt_id=prompt_id)
        suite, _ = parse_suite(decode((ws.root / suite_rel).read_bytes(), suite_rel), suite_rel)
    except (LoomgitError, OSError):
        return [], 0  # reported by the check itself
    if suite is None:
        return [], 0
    cfg = ws.config
    out: list[Finding] = []
    renders = 0
    case_vars = getattr(suite, "case_vars", lambda c: c.vars)  # suite defaults.vars merged
    for case in suite.cases:
        if getattr(case, "skip", False):
            continue
        values = case_vars(case)
        try:
            resolve_variables(prompt, values, ws.loader)
        except LoomgitError:
            continue  # the suite check already names the case's bad vars
        renders += 1
        try:
            render_prompt(
                prompt,
                values,
                loader=ws.loader,
                max_chars=cfg.render_max_chars,
                timeout_s=cfg.render_timeout_s,
            )
        except LoomgitError as e:
            where = f" at {e.path}:{e.line}" if e.path and e.line else ""
            out.append(
                error(
                    suite_rel,
                    case.line,
                    f"case {case.name!r}: rendering failed{where}: {e.message}",
                )
            )
    return out, renders


def check_snapshot(ws: Workspace, paths: Sequence[str]) -> CheckResult:
    """Everything ``loomgit check`` reports for ``paths`` (prompts and suites of ``ws``;
    other paths are ignored), plus a render of each prompt with its suite's case vars."""
    from loomgit.app.check import check
    from loomgit.prompt.discover import SUITE_SUFFIX, is_suite, match_any

    cfg = ws.config
    targets: list[str] = []
    prompts: dict[str, str | None] = {}  # prompt path -> id, for the case renders
    for p in dict.fromkeys(paths):
        if not (ws.root / p).is_file():
            continue
        if is_suite(p):
            targets.append(p)
            base = p[: -len(SUITE_SUFFIX)]
            owner = next(
                (pf for pf in ws.files() if re.sub(r"\.[^./]+$", "", pf.path) == base), None
            )
            if owner is not None:
                prompts.setdefault(owner.path, owner.id)
        elif (pf := match_any(cfg, p)) is not None:
            targets.append(p)
            prompts.setdefault(p, pf.id)
    findings = check(ws, targets) if targets else []
    renders = 0
    failed = {f.path for f in findings if f.level == "error"}
    for prompt_rel, pid in prompts.items():
        suite_rel = re.sub(r"\.[^./]+$", "", prompt_rel) + SUITE_SUFFIX
        if prompt_rel in failed or suite_rel in failed or not (ws.root / suite_rel).is_file():
            continue
        more, n = _suite_renders(ws, prompt_rel, pid, suite_rel)
        findings += more
        renders += n
    return CheckResult(findings, targets, renders)


def check_files(
    root: Path, paths: Sequence[str] | None = None, source: str = "index"
) -> CheckResult:
    """Check the staged (``source="index"``) or working-tree content of ``paths``; with
    ``paths=None``, the prompt and suite files the index changes."""
    if paths is None:
        if source != "index":
            raise UsageError("name the files to check, or check the index")
        paths = staged_paths(root)
    rels = [_relpath(root, p) for p in paths]
    if not rels:
        return CheckResult([])
    with snapshot(root, rels, source) as ws:
        result = check_snapshot(ws, rels)
        if source != "index":
            return result
        # a named prompt or suite whose staged content cannot be read must not pass unseen
        unread = [
            error(
                p,
                None,
                "not in the index: stage it (git add) or check the working "
                "tree (--source worktree)",
            )
            for p in rels
            if _is_target(ws.config, p) and not (ws.root / p).is_file()
        ]
        return CheckResult(unread + result.findings, result.checked, result.renders)


def _is_target(config: Config, path: str) -> bool:
    from loomgit.prompt.discover import is_suite, match_any

    return is_suite(path) or match_any(config, path) is not None


def _relpath(root: Path, path: str) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.replace(os.sep, "/")


# --------------------------------------------------------------------------- protect


def current_branch(root: Path) -> str | None:
    """The checked-out branch (None on a detached HEAD)."""
    name = gitio.text(["symbolic-ref", "-q", "--short", "HEAD"], root, check=False).strip()
    return name or None


def protect(root: Path, config: Config | None = None) -> str | None:
    """Why a hand commit on the current branch is refused (a stage branch), or None."""
    from loomgit.config import load_config

    branch = current_branch(root)
    if branch is None:
        return None
    cfg = config or load_config(root)
    for stage in cfg.stages:
        if cfg.branch_for(stage) == branch:
            return (
                f"'{branch}' is the branch of stage '{stage}': only 'loomgit promote' "
                f"writes it. Switch back (git switch -) and run "
                f"'loomgit promote ID VERSION --to {stage}' instead"
            )
    return None


# --------------------------------------------------------------------------- versions

_SCISSORS = re.compile(r"^. -+ >8 -+$")


def apply_trailers(root: Path, message: str, trailers: Sequence[str]) -> str:
    """``message`` with its ``Prompt-Version:`` trailers replaced by ``trailers`` (so an
    ``--amend`` never repeats them). Placement is git's own (``git interpret-trailers``):
    after the other trailers, above the comment lines and the ``commit -v`` diff."""
    lines = message.split("\n")
    cut = next((i for i, ln in enumerate(lines) if _SCISSORS.match(ln)), len(lines))
    key = TRAILER_KEY.lower() + ":"
    kept = [ln for ln in lines[:cut] if not ln.lower().startswith(key)] + lines[cut:]
    stripped = "\n".join(kept)
    if not trailers:
        return stripped
    args = ["interpret-trailers", "--if-exists", "add", "--if-missing", "add", "--where", "end"]
    for tr in trailers:
        args += ["--trailer", f"{TRAILER_KEY}: {tr}"]
    out = gitio.run(args, root, input=stripped.encode("utf-8", "surrogateescape"))
    return out.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class VersionsResult:
    """What ``loomgit-versions`` did to a commit message."""

    trailers: list[str]  # "ID X.Y.Z (change: reasons)", one per prompt the commit changes
    changed: bool  # the message file was rewritten
    note: str = ""  # why nothing was computed (e.g. an --amend the history API cannot see)


def trailer_for(pending: Pending) -> str:
    return f"{pending.id} {pending.version} ({pending.summary})"


def message_text(message: str) -> str:
    """The message as git will keep it: comment lines and a ``commit -v`` diff dropped."""
    out = []
    for ln in message.split("\n"):
        if _SCISSORS.match(ln):
            break
        if not ln.startswith("#"):
            out.append(ln)
    return "\n".join(out).strip()


def pending_for_commit(ws: Workspace, message: str = "", *, amend: bool = False) -> list[Pending]:
    """The prompt versions the staged changes get (for ``--amend``: over HEAD's parent)."""
    from loomgit.history import pending_changes

    if not amend:
        return pending_changes(ws, "index", message=message)
    # --amend replaces HEAD: versions as of its parent, the index diffed against that
    parent = gitio.text(["rev-parse", "-q", "--verify", "HEAD^"], ws.root, check=False).strip()
    return pending_changes(ws, "index", message=message, base=parent or EMPTY_TREE)


ABORT_HINT = (
    "# loomgit added the Prompt-Version lines above; to abort the commit, "
    "delete them too (git keeps a message that holds only trailers)."
)


def _abort_hint(root: Path, text: str) -> str:
    """In an editor-bound empty message, say that the trailers count as content."""
    char = gitio.text(["config", "core.commentChar"], root, check=False).strip()
    if char not in ("", "#"):
        return text
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.startswith("#")), None)
    if first is None:
        return text
    return "\n".join(lines[:first] + [ABORT_HINT] + lines[first:])


def update_message(
    root: Path, msgfile: str | Path, source: str | None = None, sha: str | None = None
) -> VersionsResult:
    """Rewrite the commit message file with one ``Prompt-Version:`` trailer per prompt the
    staged changes bump. ``source``/``sha`` are git's prepare-commit-msg arguments."""
    path = Path(msgfile)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:  # bytes that are not UTF-8 (another i18n.commitEncoding) are kept as they are
        original = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as e:
        raise LoomgitError(
            f"cannot read the commit message: {e.strerror}", path=str(msgfile)
        ) from None
    amend = source == "commit" and sha == "HEAD"
    ws = Workspace(root)
    pending = pending_for_commit(ws, message_text(original), amend=amend)
    if amend and not pending:
        return VersionsResult([], False)  # nothing new: keep the trailers the commit has
    trailers = [trailer_for(p) for p in pending if p.version]
    text = apply_trailers(root, original, trailers)
    if trailers and not message_text(original) and source in (None, "template"):
        text = _abort_hint(root, text)
    if text == original:
        return VersionsResult(trailers, False)
    tmp = path.with_name(path.name + ".loomgit-tmp")
    tmp.write_bytes(text.encode("utf-8", "surrogateescape"))
    os.replace(tmp, path)
    return VersionsResult(trailers, True)


# --------------------------------------------------------------------------- eval


def eval_targets(ws: Workspace, paths: Sequence[str]) -> list[Target]:
    """Prompt + suite targets (working tree) for the prompt and suite files among ``paths``."""
    from loomgit.evals import engine

    wanted = {p.replace(os.sep, "/").removeprefix("./") for p in paths}
    refs = [r for r in engine.suite_refs(ws) if r.prompt.path in wanted or r.suite_path in wanted]
    commit = engine.head_commit(ws)
    return [engine.target(ws, r, commit=commit) for r in refs]


def run_evals(root: Path, paths: Sequence[str] | None = None) -> EvalReport | None:
    """Run the suites of the changed prompts offline: answers come from the repository's
    recordings (``replay``), ``echo``, or the response cache; nothing is sent anywhere.
    ``paths=None``: the staged files. None when no changed prompt has a suite."""
    from loomgit.evals import engine

    ws = Workspace(root)
    rels = [_relpath(root, p) for p in (staged_paths(root) if paths is None else paths)]
    targets = eval_targets(ws, rels)
    if not targets:
        return None
    return engine.evaluate(
        ws,
        options=engine.options_from_config(ws),
        use_cache=True,
        record=False,
        target_list=targets,
        mode="replay",
    )


# --------------------------------------------------------------------------- install


def shipped_hooks_dir() -> Path:
    """The plain hook scripts: ``loomgit/_hooks`` in the wheel, ``hooks/`` in a checkout."""
    here = Path(__file__).resolve().parents[2]
    for cand in (here / "_hooks", here.parent / "hooks"):
        if (cand / HOOK_NAMES[0]).is_file():
            return cand
    raise UsageError("loomgit's hook scripts are missing from this installation; reinstall loomgit")


def hooks_dir(root: Path) -> Path:
    """Where git runs hooks from: ``core.hooksPath`` when set, else ``.git/hooks``."""
    gitio.require_repo(root)
    out = gitio.text(["rev-parse", "--git-path", "hooks"], root).strip()
    path = Path(out)
    return path if path.is_absolute() else (root / path)


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return MARKER.encode() in head


def loomgit_command() -> str:
    """The ``loomgit`` console script of this installation ('' when there is none: the
    installed hooks then look for ``loomgit`` on ``PATH``)."""
    import shutil
    import sys

    exe = "loomgit.exe" if os.name == "nt" else "loomgit"
    beside = Path(sys.executable).parent / exe
    if beside.is_file():
        return str(beside)
    return shutil.which("loomgit") or ""


def script(name: str, command: str | None = None) -> str:
    """The text of hook ``name`` pointed at ``command`` (default :func:`loomgit_command`)."""
    import shlex

    text = (shipped_hooks_dir() / name).read_text(encoding="utf-8")
    if MARKER not in text or "LOOMGIT=''" not in text:
        raise UsageError(f"hook script {name} is not loomgit's; reinstall loomgit")
    cmd = loomgit_command() if command is None else command
    return text.replace("LOOMGIT=''", "LOOMGIT=" + shlex.quote(cmd), 1)


@dataclass(frozen=True)
class HookAction:
    """One hook file touched (or left alone) by install/uninstall."""

    name: str
    path: str
    action: str  # installed | updated | replaced | removed | restored | skipped | absent
    note: str = ""


def install(root: Path, *, force: bool = False, command: str | None = None) -> list[HookAction]:
    """Write loomgit's scripts into the hooks folder. A hook that is not loomgit's is
    refused (nothing is written) unless ``force``; then it is kept as ``NAME.pre-loomgit``
    and :func:`uninstall` puts it back."""
    folder = hooks_dir(root)
    foreign = [n for n in HOOK_NAMES if (folder / n).exists() and not is_ours(folder / n)]
    if foreign and not force:
        names = ", ".join(str(_show(root, folder / n)) for n in foreign)
        raise UsageError(
            f"{names}: existing hook(s) not written by loomgit; left alone. "
            "Rerun with --force to keep them as *.pre-loomgit and install loomgit's"
        )
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOK_NAMES:
        target = folder / name
        text = script(name, command)
        if name in foreign:
            backup = target.with_name(name + BACKUP_SUFFIX)
            if backup.exists():
                raise UsageError(f"{_show(root, backup)} already exists; move it away first")
            target.rename(backup)
            action, note = "replaced", f"previous hook kept as {_show(root, backup)}"
        elif target.exists():
            action, note = "updated", ""
        else:
            action, note = "installed", ""
        tmp = target.with_name(f".{name}.loomgit-tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        os.replace(tmp, target)
        done.append(HookAction(name, _show(root, target), action, note))
    return done


def uninstall(root: Path) -> list[HookAction]:
    """Remove loomgit's scripts only; restore any hook that ``install --force`` set aside."""
    folder = hooks_dir(root)
    done = []
    for name in HOOK_NAMES:
        target = folder / name
        backup = target.with_name(name + BACKUP_SUFFIX)
        if target.exists() and not is_ours(target):
            done.append(HookAction(name, _show(root, target), "skipped", "not loomgit's"))
            continue
        if target.exists():
            target.unlink()
            if backup.exists():
                os.replace(backup, target)
                done.append(
                    HookAction(name, _show(root, target), "restored", f"from {_show(root, backup)}")
                )
            else:
                done.append(HookAction(name, _show(root, target), "removed"))
        else:
            done.append(HookAction(name, _show(root, target), "absent"))
    return done


def _show(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


__all__ = [
    "CheckResult",
    "HookAction",
    "Snapshot",
    "check_files",
    "check_snapshot",
    "current_branch",
    "hooks_dir",
    "install",
    "is_ours",
    "protect",
    "read_index",
    "shipped_hooks_dir",
    "snapshot",
    "staged_paths",
    "uninstall",
]
