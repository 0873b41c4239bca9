"""Entry points of installed distributions: how other packages add providers and
assertion types to loomgit.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."loomgit.providers"]
    upper = "loomgit_upper:UpperProvider"

    [project.entry-points."loomgit.assertions"]
    shouts = "loomgit_upper:shouts"

Entry points are read only when a name is not built in, and each one is imported only
when it is used. A plugin that fails to import is one :class:`~loomgit.errors.PluginError`
line naming the plugin and its distribution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loomgit.errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

PROVIDERS = "loomgit.providers"
ASSERTIONS = "loomgit.assertions"

_found: dict[str, dict[str, EntryPoint]] = {}


def _group(group: str) -> dict[str, EntryPoint]:
    if group not in _found:
        # start-up: importlib.metadata costs tens of milliseconds, paid only on a miss
        from importlib.metadata import entry_points

        eps: dict[str, EntryPoint] = {}
        for ep in entry_points(group=group):
            eps.setdefault(ep.name, ep)  # the first distribution found wins, as for imports
        _found[group] = eps
    return _found[group]


def names(group: str) -> list[str]:
    """The names installed distributions declare in ``group``."""
    return sorted(_group(group))


def describe(ep: EntryPoint) -> str:
    """``'upper' (loomgit_upper:UpperProvider, from loomgit-upper 0.1)``."""
    dist = getattr(ep, "dist", None)
    origin = f", from {dist.name} {dist.version}" if dist is not None else ""
    return f"{ep.name!r} ({ep.value}{origin})"


def load(group: str, name: str, kind: str) -> object | None:
    """The object the entry point ``name`` of ``group`` names; None when there is none.

    ``kind`` ("provider", "assertion") is used in the one-line error when the plugin
    cannot be imported.
    """
    ep = _group(group).get(name)
    if ep is None:
        return None
    try:
        found: object = ep.load()
    except Exception as e:  # anything a third-party import does: named once, never a traceback
        raise PluginError(
            f"{kind} plugin {describe(ep)} cannot be loaded: {type(e).__name__}: {e}"
        ) from e
    return found


def forget() -> None:
    """Read entry points again on next use (after installing a distribution in-process)."""
    _found.clear()
