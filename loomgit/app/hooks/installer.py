"""``loomgit hooks install|uninstall``: the plain scripts of ``hooks/`` in ``.git/hooks``
(or ``core.hooksPath``), for teams that do not use the pre-commit framework."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from loomgit import _git
from loomgit._git.run import git_path
from loomgit.errors import UsageError

HOOK_NAMES = ("pre-commit", "prepare-commit-msg")
MARKER = "# loomgit-hook:"  # second line of every script loomgit installs
BACKUP_SUFFIX = ".pre-loomgit"


def shipped_hooks_dir() -> Path:
    """The plain hook scripts: ``loomgit/_hooks`` in the wheel, ``hooks/`` in a checkout."""
    here = Path(__file__).resolve().parents[2]
    for cand in (here / "_hooks", here.parent / "hooks"):
        if (cand / HOOK_NAMES[0]).is_file():
            return cand
    raise UsageError("loomgit's hook scripts are missing from this installation; reinstall loomgit")


def hooks_dir(root: Path) -> Path:
    """Where git runs hooks from: ``core.hooksPath`` when set, else ``.git/hooks``."""
    _git.require_repo(root)
    return git_path(root, "hooks")


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
    exe = "loomgit.exe" if os.name == "nt" else "loomgit"
    beside = Path(sys.executable).parent / exe
    if beside.is_file():
        return str(beside)
    return shutil.which("loomgit") or ""


def script(name: str, command: str | None = None) -> str:
    """The text of hook ``name`` pointed at ``command`` (default :func:`loomgit_command`)."""
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
