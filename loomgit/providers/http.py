"""The shared part of every HTTP provider: one POST, timed, with httpx's errors and the
provider's error bodies turned into one-line :mod:`loomgit.providers.errors`.

A provider makes one attempt per call; retries, limits and the circuit breaker live in
:mod:`loomgit.providers.resilience`. The API key is sent in a header only, and removed
from every message this module builds.

This is the one module that uses httpx, and it imports it on the first request, so that
naming a provider (or running ``echo``) never loads the network stack.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loomgit import tracing
from loomgit.providers.base import Provider
from loomgit.providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderRejected,
    ProviderResponseError,
    ProviderTimeout,
)
from loomgit.providers.transport import client_class, transport
from loomgit.providers.vocab import note as vocab_note

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
_KEY_WORDS = re.compile(r"api[ _-]?key", re.IGNORECASE)  # Gemini answers a bad key with 400
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "enforced_spend_limit_reached"}

if TYPE_CHECKING:
    import httpx


def new_client(*, pooled: bool = False, connections: int = 64) -> httpx.AsyncClient:
    """A fresh ``httpx.AsyncClient`` sending with aiohttp where it can (a fifth of httpx's
    own CPU per request, see :mod:`loomgit.providers.transport`); ``pooled`` sizes the pool
    for many concurrent calls: ``connections``, each kept alive (a connection closed after
    its answer costs a new TCP handshake on the next request)."""
    import httpx  # start-up: the network stack only when a request is made

    n = max(1, connections) if pooled else 20
    fast = transport(n)
    if fast is not None:
        return client_class()(transport=fast, cookies=_no_cookies())
    if pooled:
        return httpx.AsyncClient(
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)
        )
    return httpx.AsyncClient()


def _no_cookies() -> Any:
    """A cookie jar that keeps none: model APIs authenticate with keys, a cookie set by one
    provider has no business reaching another through the shared client, and httpx's
    cookie handling (an ``email.message`` built per response) was a fifth of its CPU per
    request."""
    import http.cookiejar

    class NoCookies(http.cookiejar.CookieJar):
        def extract_cookies(self, response: Any, request: Any) -> None:
            return None

        def add_cookie_header(self, request: Any) -> None:
            return None

    return NoCookies()


def one_line(text: str, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class HTTPProvider(Provider):
    """A provider reached over HTTP with an optional API key."""

    default_base_url = ""

    def __init__(
        self,
        model: str,
        *,
        label: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        local: bool = False,
    ) -> None:
        super().__init__(model, label=label, defaults=defaults)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._api_key = api_key or None
        self.api_key_env = api_key_env
        self._http = http
        self._own_http = http is None
        self.timeout_s = float(timeout_s)
        self.extra_headers = dict(headers or {})
        self.local = local
        self._urls: dict[str, tuple[httpx.URL, str]] = {}  # path -> (URL, as shown)
        self._timeout: httpx.Timeout | None = None
        self.fallbacks: list[str] = []
        if not self.base_url.startswith(("http://", "https://")):
            raise ProviderConfigError(
                f"{self.label}: base_url {self.redact(self.base_url)!r} is not an http(s) URL"
            )

    # -- secrets ---------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        key = self._api_key
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    def __repr__(self) -> str:  # never shows the key
        return f"<{type(self).__name__} {self.label} at {self.redact(self.base_url)}>"

    # -- hooks for subclasses ----------------------------------------------------------------
    path = ""  # where chat requests go, under base_url

    def say(self, notes: list[str]) -> None:
        """Tell the user, once, what was sent instead of what was asked for (a fallback):
        kept in ``fallbacks`` (``ModelClient.notes`` collects them) and logged."""
        for n in notes:
            if n not in self.fallbacks:
                self.fallbacks.append(n)
                vocab_note(self.label, n)

    def request_path(self) -> str:
        return self.path

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a chat request; ``notes`` collects what was sent instead of
        what was asked for (a fallback), for the user to be told."""
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def error_detail(self, data: Any) -> tuple[str, str | None]:
        """(message, code) from a parsed error body; each provider knows its shape."""
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict):
            err = data.get("error", data)
            if isinstance(err, dict):
                msg = err.get("message") or err.get("detail") or err.get("status") or ""
                code = err.get("code") or err.get("type") or err.get("status")
                return str(msg), str(code) if code is not None else None
            if isinstance(err, str):
                return err, None
            if "message" in data:
                return str(data["message"]), None
        return "", None

    # -- the request -----------------------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = new_client()
            self._own_http = True
        return self._http

    async def aclose(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def target(self, path: str, accept: str) -> tuple[Any, str, dict[str, str], Any]:
        """(URL, URL as shown, headers, timeout) of a request to ``base_url + path``."""
        import httpx  # start-up: see the module docstring

        known = self._urls.get(path)
        if known is None:  # parsed once: httpx parses a str URL on every request
            parsed = httpx.URL(self.base_url + path)
            known = self._urls[path] = (parsed, self.redact(str(parsed)))
        headers = {
            "Content-Type": "application/json",
            "Accept": accept,
            **self.extra_headers,
            **self.auth_headers(),
        }
        timeout = self._timeout
        if timeout is None:
            timeout = self._timeout = httpx.Timeout(
                self.timeout_s, connect=min(self.timeout_s, 10.0)
            )
        return known[0], known[1], headers, timeout

    def failed(self, e: Exception, shown: str) -> ProviderError:
        """httpx's exception ``e`` as the provider error that says what happened."""
        import httpx

        if isinstance(e, httpx.TimeoutException):
            what = {
                "ConnectTimeout": "connecting",
                "ReadTimeout": "waiting for the answer",
                "WriteTimeout": "sending",
                "PoolTimeout": "waiting for a connection",
            }
            return ProviderTimeout(
                f"{self.label}: no answer from {shown} within {self.timeout_s:g} s "
                f"({what.get(type(e).__name__, 'timed out')})"
            )
        if isinstance(e, httpx.ConnectError):
            err = ProviderConnectionError(
                f"{self.label}: cannot connect to {shown}: "
                f"{self._describe(e)}" + (" — is the server running?" if self.local else "")
            )
            if self.local:  # a local server that is not running will not start by waiting
                err.retryable = False
            return err
        if isinstance(e, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return ProviderConfigError(f"{self.label}: bad URL {shown}: {self._describe(e)}")
        return ProviderConnectionError(
            f"{self.label}: connection to {shown} failed before a complete answer: "
            f"{self._describe(e)}"
        )

    async def post(self, path: str, body: dict[str, Any]) -> tuple[Any, float]:
        """POST ``body`` as JSON to ``base_url + path``; (parsed JSON, latency in ms)."""
        import httpx  # start-up: see the module docstring

        url, shown, headers, timeout = self.target(path, "application/json")
        with tracing.model_call(self.name, self.model) as span:  # one span per request
            t0 = time.perf_counter()
            try:
                resp = await self.client().post(url, json=body, headers=headers, timeout=timeout)
            except (httpx.TransportError, httpx.InvalidURL) as e:
                raise self.failed(e, shown) from None
            latency = (time.perf_counter() - t0) * 1000
            if resp.status_code >= 400:
                raise self.http_error(resp, shown)
            try:
                data = json.loads(resp.content)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise ProviderResponseError(
                    f"{self.label}: {shown} answered HTTP {resp.status_code} with invalid JSON "
                    f"({self._excerpt(resp)})",
                    status=resp.status_code,
                ) from None
            tracing.response(span, data)
        return data, latency

    def _describe(self, e: Exception) -> str:
        quiet = {
            "ReadError": "the connection was reset",
            "WriteError": "the request could not be sent",
            "ConnectError": "connection refused",
            "RemoteProtocolError": "the server broke the protocol",
        }
        text = str(e).strip() or quiet.get(type(e).__name__, type(e).__name__)
        return self.redact(one_line(text, 160))

    def _excerpt(self, resp: httpx.Response) -> str:
        text = resp.content[:300].decode("utf-8", "replace")
        return self.redact(one_line(text, 120)) or "empty body"

    def http_error(self, resp: httpx.Response, shown: str) -> ProviderError:
        status = resp.status_code
        try:
            msg, code = self.error_detail(json.loads(resp.content))
        except (ValueError, UnicodeDecodeError, RecursionError):
            msg, code = "", None
        detail = self.redact(one_line(msg)) if msg else self._excerpt(resp)
        where = f"HTTP {status}: {detail}"
        if status in (401, 403) or (status == 400 and _KEY_WORDS.search(msg)):
            if self.api_key_env and self._api_key:
                fix = f"check that ${self.api_key_env} holds a valid key with access to {self.model!r}"
            elif self.api_key_env:
                fix = f"set ${self.api_key_env}"
            else:
                fix = "the server wants a key: set api_key_env for this provider in loomgit.yaml"
            return ProviderAuthError(
                f"{self.label}: the key was refused ({where}); {fix}", status=status
            )
        if status == 429 and (code in QUOTA_CODES or any(c in msg for c in QUOTA_CODES)):
            return ProviderRejected(
                f"{self.label}: quota or spend limit reached ({where}); "
                "retrying will not help until it is raised",
                status=status,
            )
        if status in RETRY_STATUSES or status >= 500:
            label = "rate limited" if status == 429 else f"server error from {shown}"
            return ProviderHTTPError(
                f"{self.label}: {label} ({where})",
                status=status,
                retry_after=parse_retry_after(resp.headers),
            )
        if status == 404:
            fix = f"check the model name {self.model!r} and the base_url {self.base_url}"
        elif status == 413:
            fix = "the request is too large: shorten the prompt or its variables"
        elif status == 402:
            fix = "the account needs credit"
        else:
            fix = "check the prompt's params and messages"
        return ProviderRejected(
            f"{self.label}: the request was refused ({where}); {fix}", status=status
        )

    def shape_error(self, data: Any, what: str) -> ProviderResponseError:
        """The answer parsed as JSON but lacks what the API documents."""
        msg, _ = self.error_detail(data)
        if msg:
            return ProviderResponseError(
                f"{self.label}: the provider answered with an error: {self.redact(one_line(msg))}"
            )
        text = self.redact(one_line(json.dumps(data)[:200], 120))
        return ProviderResponseError(f"{self.label}: unexpected answer ({what}): {text}")


def text_of(value: Any) -> str:
    """Content that is a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p.get("text", "") if isinstance(p, dict) else str(p)
            for p in value
            if not isinstance(p, dict) or p.get("type", "text") == "text"
        )
    raise TypeError(f"content is {type(value).__name__}")


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


# OpenAI params with no equivalent elsewhere: dropped (not sent) by the other providers, so
# one prompt can be run against several providers.
OPENAI_ONLY = {
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "user",
    "stream",
    "stream_options",
    "parallel_tool_calls",
    "service_tier",
    "store",
    "max_completion_tokens",
}
