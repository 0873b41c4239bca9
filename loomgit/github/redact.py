"""Secrets out of anything loomgit writes where others can read it (logs, the job summary,
the pull-request comment, report files)."""

from __future__ import annotations

import os
from collections.abc import Mapping

SECRET_SUFFIXES = (
    "_TOKEN",
    "_API_KEY",
    "_SECRET",
    "_PASSWORD",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_SECRET_KEY",
)


def redact(text: str, secrets_: Mapping[str, str] | None = None) -> str:
    """``text`` with the values of secret environment variables replaced by ``***``
    (``*_TOKEN``, ``*_API_KEY``, ``*_SECRET``, ``*_PASSWORD``, ``*_ACCESS_KEY``...; values
    of 8 characters or more, so a short value cannot blank common words)."""
    env = os.environ if secrets_ is None else secrets_
    for name, value in env.items():
        upper = name.upper()
        if (
            value
            and len(value) >= 8
            and not upper.startswith("LOOMGIT_")
            and upper.endswith(SECRET_SUFFIXES)
        ):
            text = text.replace(value, "***")
    return text
