"""Rendering one prompt for many cases.

``render_prompt`` keeps compiled templates per include loader and watches every render's
deadline from one shared thread, so a suite can simply render case after case with the
sandbox's size and time limits intact. :class:`CaseRenderer` keeps the settings together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loomgit.prompt.model import Prompt
from loomgit.prompt.render import MAX_CHARS, TIMEOUT_S, IncludeLoader, render_prompt


class CaseRenderer:
    """``render(variables) -> messages`` for one prompt."""

    def __init__(
        self,
        prompt: Prompt,
        loader: IncludeLoader | None = None,
        *,
        max_chars: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.prompt = prompt
        self.loader = loader
        self.max_chars = max_chars or MAX_CHARS
        self.timeout_s = timeout_s or TIMEOUT_S

    def render(self, variables: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        return render_prompt(
            self.prompt,
            variables,
            loader=self.loader,
            max_chars=self.max_chars,
            timeout_s=self.timeout_s,
        )

    def close(self) -> None:
        return None
