"""Example loomgit plugin.

- Provider type ``shout``: answers with the last user message in upper case, offline and
  free (model names ``shout`` or ``shout/anything``).
- Assertion type ``shouting``: the share of the answer's letters that are upper case;
  ``{shouting: 0.9}`` passes when at least 90% are (``{shouting: true}`` means all).
"""

from __future__ import annotations

import time
from typing import Any

from loomgit.evals.assertions import AssertionType, Observation, Outcome, Services
from loomgit.providers.base import Completion, Provider, Usage


class ShoutProvider(Provider):
    name = "shout"
    local = True  # runs here: free

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        users = [m["content"] for m in messages if m.get("role") == "user"]
        text = (users[-1] if users else "").upper()
        prefix = str(self.merge_params(params).get("prefix", ""))
        return Completion(
            prefix + text,
            self.label,
            Usage(sum(len(m["content"]) for m in messages) // 4, len(text) // 4),
            (time.perf_counter() - t0) * 1000,
            0.0,
            "stop",
        )


def _check(arg: Any) -> str | None:
    if arg is True or (
        isinstance(arg, (int, float)) and not isinstance(arg, bool) and 0 <= arg <= 1
    ):
        return None
    return "expects true or the share of upper-case letters required, from 0 to 1"


def _run(arg: Any, obs: Observation, services: Services) -> Outcome:
    letters = [c for c in obs.text if c.isalpha()]
    share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    need = 1.0 if arg is True else float(arg)
    ok = share >= need
    return ok, share, f"{share:.0%} upper case {'≥' if ok else '<'} {need:.0%}"


shouting = AssertionType(_run, _check)
