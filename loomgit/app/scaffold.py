"""``loomgit init`` and ``loomgit new``: files written from ``templates/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loomgit import _git
from loomgit.errors import UsageError
from loomgit.prompt.discover import fixed_prefix
from loomgit.prompt.parse import id_problem
from loomgit.schemas import init_files as schema_files
from loomgit.workspace import Workspace

INIT_FILES = {
    "loomgit.yaml": "loomgit.yaml",
    "prompts/support/summarize.prompt": "summarize.prompt",
    "prompts/support/summarize.tests.yaml": "summarize.tests.yaml",
    ".github/workflows/loomgit.yml": "workflow.yml",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
}


def templates_dir() -> Path:
    """Templates shipped in the wheel (``loomgit/_templates``) or in a source checkout."""
    here = Path(__file__).resolve().parents[1]
    for cand in (here / "_templates", here.parent / "templates"):
        if cand.is_dir():
            return cand
    raise UsageError("loomgit's templates are missing from this installation; reinstall loomgit")


def template(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Written:
    path: str
    created: bool  # False: it existed and was left alone


def write_new(root: Path, rel: str, text: str) -> Written:
    target = root / rel
    if target.exists():
        return Written(rel, False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as f:  # never overwrite, even in a race
        f.write(text)
    return Written(rel, True)


def init(root: Path) -> list[Written]:
    """Scaffold a repository; existing files are never overwritten."""
    _git.require_repo(root)
    written = [write_new(root, rel, template(name)) for rel, name in INIT_FILES.items()]
    return written + [write_new(root, rel, text) for rel, text in schema_files().items()]


def new(ws: Workspace, prompt_id: str, description: str = "") -> Written:
    """Create ``prompts/<id>.prompt`` (under the first glob's folder) from the template."""
    problem = id_problem(prompt_id)
    if problem:
        raise UsageError(problem)
    spec = ws.config.prompts[0]
    if spec.id:
        raise UsageError(
            f"the first prompt glob {spec.glob!r} takes ids from its pattern; "
            "create the file by hand"
        )
    ext = spec.glob.rsplit("*", 1)[-1] or ".prompt"
    if not ext.startswith("."):
        ext = ".prompt"
    rel = f"{fixed_prefix(spec.glob)}{prompt_id}{ext}"
    text = template("new.prompt").replace("@@DESCRIPTION@@", description or f"{prompt_id} prompt")
    written = write_new(ws.root, rel, text)
    if not written.created:
        raise UsageError(f"{rel} already exists; not overwritten")
    return written
