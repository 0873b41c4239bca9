"""What can go wrong when calling a model, as :class:`~loomgit.errors.ProviderError`
subclasses that say whether a retry can help and what the user should fix.

Every message is one line and never holds an API key (providers redact their key from
anything they put into an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import ProviderError, UsageError


class ProviderConfigError(UsageError, ProviderError):
    """The provider cannot be used as configured: unknown name, missing API key, bad
    ``providers:`` entry. A usage error (exit 2): the user must change their setup."""

    retryable = False


class ProviderTransientError(ProviderError):
    """A failure that may pass: 429, 5xx, a timeout, a dropped connection, a garbled answer."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ProviderHTTPError(ProviderTransientError):
    """The provider answered with an HTTP error status (429 and 5xx are retried)."""


class ProviderTimeout(ProviderTransientError):
    """No answer in time."""


class ProviderConnectionError(ProviderTransientError):
    """The connection failed or was closed before a complete answer arrived."""


class ProviderResponseError(ProviderTransientError):
    """The answer arrived but is not what the API documents (invalid JSON, wrong shape)."""


class ProviderRejected(ProviderError):
    """The provider refused the request and retrying will not help (400, 401, 403, 404,
    413, quota exhausted): the message says what to fix."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderAuthError(ProviderRejected):
    """401/403: the API key is missing, wrong, or lacks access."""


class ProviderUnavailable(ProviderError):
    """The circuit breaker is open: the provider kept failing, calls are refused for a while."""

    retryable = False


class RecordingMissing(ProviderError):
    """``replay`` has no recorded answer for this request."""

    retryable = False


def config_error(config: Any, keys: tuple[str, ...], message: str) -> ProviderConfigError:
    """A :class:`ProviderConfigError` about ``loomgit.yaml`` at ``keys`` (``("providers",
    "local", "base_url")``), with the file and the line of the deepest key found."""
    err = ProviderConfigError(f"{'.'.join(keys)}: {message}")
    path = getattr(config, "path", None)
    if path is None or not Path(path).is_file():
        return err
    err.path = Path(path).name
    try:
        node: Any = _yaml.load(Path(path).read_text(encoding="utf-8"))
    except Exception:
        return err
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            break
        err.line = _yaml.line_of(node, k, err.line)
        node = node[k]
    return err


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


__all__ = [
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderRejected",
    "ProviderResponseError",
    "ProviderTimeout",
    "ProviderTransientError",
    "ProviderUnavailable",
    "RecordingMissing",
    "config_error",
    "is_retryable",
]
