"""TO BE REMOVED AT INTEGRATION: a re-export of :mod:`loomgit._git` for the call sites
in ``loomgit/app/hooks`` and ``loomgit/app/ci`` that are still being converted. Nothing
else may import it; new code uses ``loomgit._git`` directly."""

from __future__ import annotations

from loomgit._git.run import require_repo, run, text

__all__ = ["require_repo", "run", "text"]
