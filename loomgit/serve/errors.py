"""Errors as the API answers them: ``{"error": {"type", "message"}}`` with a status that fits.

The message is one line (the same words the CLI prints, without ``loomgit: error:``); it
never holds a key (provider errors redact theirs, and the server's own keys are never put
into a message).
"""

from __future__ import annotations

from typing import Any

from loomgit.app.bundle import BundleError
from loomgit.errors import (
    GitError,
    LoomgitError,
    PromptError,
    ProviderError,
    RefError,
    RenderError,
    UsageError,
)
from loomgit.providers.errors import ProviderConfigError, ProviderTimeout, ProviderUnavailable
from loomgit.stages.state import StageError


class ApiError(Exception):
    """An answer other than 2xx, raised anywhere in a handler."""

    def __init__(
        self, status: int, type_: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = one_line(message)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message}}


def one_line(text: str, limit: int = 500) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _provider_status(e: LoomgitError) -> tuple[int, str] | None:
    if isinstance(e, ProviderConfigError):
        return 400, "provider_config"
    if isinstance(e, ProviderTimeout):
        return 504, "provider_timeout"
    if isinstance(e, ProviderUnavailable):
        return 503, "provider_unavailable"
    if isinstance(e, ProviderError):
        return 502, "provider_error"
    return None


def from_loomgit(e: LoomgitError) -> ApiError:
    """The API error of a loomgit error (its class decides, as it decides the exit code)."""
    status: tuple[int, str] | None = _provider_status(e)
    if status is None:
        if isinstance(e, StageError):
            status = (400, "bad_stage")
        elif isinstance(e, BundleError):
            status = (503, "bundle_unavailable")
        elif isinstance(e, RefError):
            status = (404, "not_found")
        elif isinstance(e, PromptError):
            status = (422, "invalid_variables" if isinstance(e, RenderError) else "invalid_prompt")
        elif isinstance(e, GitError):
            status = (503, "repository_unavailable")
        elif isinstance(e, UsageError):
            status = (400, "bad_request")
        else:
            status = (500, "server_error")
    return ApiError(status[0], status[1], str(e))
