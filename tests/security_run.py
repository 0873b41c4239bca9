"""Running the real CLI in a child process under a memory cap, for the denial-of-service
corpus (tests/corpus/security/payloads.py): an allocation over the cap fails the child
instead of passing slowly, and a hang fails the test by its timeout."""

from __future__ import annotations

import importlib.util
import resource
import subprocess
import sys
from pathlib import Path
from types import ModuleType

MEMORY_CAP = 1 << 30  # 1 GiB of address space for the child
TIMEOUT_S = 30  # far above the < 1 s the payloads take; only a hang reaches it


def payloads() -> ModuleType:
    path = Path(__file__).resolve().parent / "corpus" / "security" / "payloads.py"
    spec = importlib.util.spec_from_file_location("security_payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``loomgit ARGS`` in ``cwd``, in a child limited to :data:`MEMORY_CAP`."""
    return subprocess.run(
        [sys.executable, "-m", "loomgit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=_cap,
        timeout=TIMEOUT_S,
    )
