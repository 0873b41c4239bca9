"""Finding prompt files: the configured globs, ids from paths or id patterns."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loomgit._git import index, is_repo
from loomgit._git.run import refuse_bare
from loomgit.config import Config, GlobSpec, glob_regex
from loomgit.errors import RefError
from loomgit.prompt.frontmatter import ID_SCAN, frontmatter_id
from loomgit.prompt.parse import default_id, read_prompt, strip_ext, symlink_error

if TYPE_CHECKING:
    from loomgit.prompt.model import Prompt

PROMPT_SUFFIXES = (".prompt", ".prompty", ".md", ".txt", ".prompt.yml", ".prompt.yaml")
SUITE_SUFFIX = ".tests.yaml"


@dataclass(frozen=True)
class PromptFile:
    """A file matched by a prompt glob, with the id the glob gives it."""

    path: str  # repo-relative, forward slashes
    id: str
    glob: GlobSpec

    @property
    def suite_path(self) -> str:
        return re.sub(r"\.[^./]+$", "", self.path) + SUITE_SUFFIX


def fixed_prefix(glob: str) -> str:
    """The folder part of a glob before its first wildcard (``prompts/`` for ``prompts/**``)."""
    parts = glob.split("/")
    keep = []
    for p in parts[:-1]:
        if any(ch in p for ch in "*?["):
            break
        keep.append(p)
    return "/".join(keep) + "/" if keep else ""


def match(spec: GlobSpec, path: str) -> str | None:
    """The id ``path`` gets from ``spec``, or None when it does not match."""
    m = glob_regex(spec.glob).match(path)
    if not m:
        return None
    if spec.id:
        groups = [g.rstrip("/") for g in m.groups()]
        try:
            return re.sub(r"\{(\d+)\}", lambda mm: groups[int(mm.group(1)) - 1], spec.id)
        except IndexError:
            return None
    rel = path[len(fixed_prefix(spec.glob)) :]
    return strip_ext(rel) if rel else None


def glob_for(config: Config, path: str) -> GlobSpec | None:
    """The first glob entry that matches ``path`` (its options apply to the file)."""
    if is_suite(path):
        return None
    return next((s for s in config.prompts if match(s, path) is not None), None)


def match_any_id(config: Config, path: str) -> str | None:
    """The id a prompt glob gives ``path`` (from the path alone; None: no glob matches)."""
    for spec in config.prompts:
        pid = match(spec, path)
        if pid is not None:
            return pid
    return None


def is_suite(path: str) -> bool:
    return path.endswith(SUITE_SUFFIX)


def file_id(full: Path) -> str | None:
    """The ``id:`` set in a file's frontmatter, read cheaply (no YAML parse)."""
    try:
        with open(full, "rb") as f:
            head = f.read(ID_SCAN)
    except OSError:
        return None
    return frontmatter_id(head.decode("utf-8", "replace"))


def match_any(config: Config, path: str) -> PromptFile | None:
    if is_suite(path):
        return None
    for spec in config.prompts:
        pid = match(spec, path)
        if pid is not None:
            return PromptFile(path, file_id(config.root / path) or pid, spec)
    return None


def list_files(root: Path) -> list[str]:
    """Every candidate file under ``root`` (git's view when it is a repository; a bare
    repository is refused, as it has no work tree)."""
    refuse_bare(root)
    if is_repo(root):
        top = str(root)
        return [p for p in index.ls_files(root) if _regular(f"{top}/{p}")]
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if not _regular(Path(d, f)):
                continue
            out.append(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/"))
    return sorted(out)


def _regular(full: str | Path) -> bool:
    """A regular file, not a symlink (one ``lstat``: a commit hook lists every file)."""
    try:
        return stat.S_ISREG(os.lstat(full).st_mode)
    except (OSError, ValueError):
        return False


def symlinked(config: Config) -> list[str]:
    """Paths a prompt glob matches that are symlinks: never read, reported by ``check``
    and ``list`` (a link could point at any file on the machine)."""
    root = config.root
    names = index.ls_files(root) if is_repo(root) else []
    return [
        p
        for p in names
        if not is_suite(p)
        and (root / p).is_symlink()
        and any(match(s, p) is not None for s in config.prompts)
    ]


def discover(config: Config, paths: list[str] | None = None) -> list[PromptFile]:
    """Prompt files of the working tree (or among ``paths``), sorted by id."""
    found = [
        pf
        for p in (paths if paths is not None else list_files(config.root))
        if (pf := match_any(config, p)) is not None
    ]
    return sorted(found, key=lambda pf: pf.id)


def duplicate_ids(files: list[PromptFile]) -> dict[str, list[PromptFile]]:
    """Ids that more than one file claims, each with its files in path order."""
    by_id: dict[str, list[PromptFile]] = {}
    for pf in files:
        by_id.setdefault(pf.id, []).append(pf)
    return {i: sorted(fs, key=lambda f: f.path) for i, fs in by_id.items() if len(fs) > 1}


def id_line(full: Path) -> int | None:
    """The line of the frontmatter's ``id:`` in a file (None when its id comes from its path)."""
    try:
        with open(full, "rb") as f:
            head = f.read(ID_SCAN).decode("utf-8", "replace")
    except OSError:
        return None
    if frontmatter_id(head) is None:
        return None
    for n, text in enumerate(head.splitlines()[1:], start=2):
        if text.startswith("id:"):
            return n
    return None


def ambiguous_id(ident: str, paths: list[str]) -> RefError:
    """The refusal to pick one of several prompts that share an id."""
    return RefError(
        f"id {ident!r} is used by {len(paths)} files: {', '.join(paths)};"
        " set a different id in one of them, or name the file by its path"
    )


def resolve_id(config: Config, ident: str, files: list[PromptFile] | None = None) -> PromptFile:
    """A prompt by id, unique id suffix (``summarize`` for ``support/summarize``) or path."""
    root = config.root
    cand = Path(ident)
    if cand.suffix and (cand.is_symlink() or (root / ident).is_symlink()):
        raise symlink_error(ident)
    if cand.suffix and (cand.is_file() or (root / ident).is_file()):
        full = cand.resolve() if cand.is_file() else (root / ident).resolve()
        try:
            rel = full.relative_to(root).as_posix()
        except ValueError:
            raise RefError(f"{ident}: file is outside the repository {root}") from None
        return match_any(config, rel) or PromptFile(rel, default_id(rel), GlobSpec(rel))
    files = discover(config) if files is None else files
    same = [pf for pf in files if pf.id == ident]
    if len(same) > 1:
        raise ambiguous_id(ident, sorted(pf.path for pf in same))
    if same:
        return same[0]
    tail = [pf for pf in files if pf.id.endswith("/" + ident)]
    if len(tail) == 1:
        return tail[0]
    if len(tail) > 1 and len({pf.id for pf in tail}) == 1:
        raise ambiguous_id(tail[0].id, sorted(pf.path for pf in tail))
    if len(tail) > 1:
        raise RefError(f"{ident!r} is ambiguous: {', '.join(sorted({pf.id for pf in tail}))}")
    for link in symlinked(config):
        if ident in (match_any_id(config, link), link):
            raise symlink_error(link)
    import difflib

    close = difflib.get_close_matches(ident, [pf.id for pf in files], n=3)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (
            "; 'loomgit list' shows the prompts"
            if files
            else f"; no prompt files match {', '.join(s.glob for s in config.prompts)}"
        )
    )
    raise RefError(f"unknown prompt {ident!r}{hint}")


def read(config: Config, pf: PromptFile) -> Prompt:
    """Parse the working-tree file of ``pf``."""
    return read_prompt(config.root / pf.path, display=pf.path, prompt_id=pf.id, glob=pf.glob)
