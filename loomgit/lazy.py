"""Names a package offers without importing the modules that define them.

A package's ``__init__`` says ``__getattr__ = lazy.attributes(__name__, {name: module})``:
the module is imported on the first use of a name, and the name kept in the package, so
``import loomgit.providers`` costs nothing for the names a command does not use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``table`` maps a name to the submodule
    that defines it. (The root package keeps its own: it imports nothing of loomgit.)"""

    def __getattr__(name: str) -> Any:
        sub = table.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
