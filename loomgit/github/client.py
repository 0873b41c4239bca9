"""A REST client (httpx) that keeps exactly one pull-request comment per marker.

It pages through the existing comments (``Link: rel="next"``), updates the marked one or
creates it, retries server errors and rate limits, and turns a 403 into
:class:`CommentForbidden` so the caller can fall back to the job summary (pull requests
from forks get a read-only token). The token goes into the ``Authorization`` header and
nowhere else: it is kept out of ``repr`` and error messages, and never sent to another
host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loomgit.errors import InfraError, UsageError
from loomgit.github.env import REPO_RE

if TYPE_CHECKING:
    import httpx

MAX_PAGES = 100  # 100 pages x 100 comments: far beyond any real pull request


class GitHubError(InfraError):
    """The GitHub API refused or failed a request (``status`` is the HTTP status, 0 for
    a network failure)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class CommentForbidden(GitHubError):
    """The token may not comment (403): typically a pull request from a fork."""


@dataclass(frozen=True)
class CommentResult:
    action: str  # created | updated
    id: int
    url: str | None


class GitHubClient:
    """The few REST calls ``loomgit ci`` makes, on one ``httpx.Client``.

    Pass ``client`` to inject a transport in tests; the token is then added per request.
    ``user_agent`` names the caller (GitHub asks for one on every request).
    """

    def __init__(
        self,
        api_url: str,
        token: str | None,
        repository: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 20.0,
        retries: int = 3,
        backoff: float = 1.0,
        user_agent: str = "loomgit",
    ) -> None:
        import httpx

        if not REPO_RE.match(repository):
            raise UsageError(f"repository {repository!r} is not OWNER/NAME")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self._retries = retries
        self._backoff = backoff
        self._user_agent = user_agent
        self._own = client is None
        self._http = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:
        return f"GitHubClient({self.api_url!r}, {self.repository!r})"

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing

    def _headers(self) -> dict[str, str]:
        h = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": self._user_agent,
        }
        if self._token:
            h["Authorization"] = f"Bearer {self._token}"
        return h

    def _same_origin(self, url: str) -> bool:
        import httpx

        a, b = httpx.URL(self.api_url), httpx.URL(url)
        return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)

    def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        import httpx

        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        if not self._same_origin(url):  # never send the token to another host
            raise GitHubError(
                f"GitHub API sent a link to another host ({httpx.URL(url).host}); "
                "refusing to follow it"
            )
        attempt = 0
        while True:
            resp: httpx.Response | None = None
            try:
                resp = self._http.request(method, url, headers=self._headers(), **kw)
            except httpx.TimeoutException:
                err: GitHubError = GitHubError(f"GitHub API at {self.api_url} timed out")
            except httpx.HTTPError as e:
                err = GitHubError(
                    f"cannot reach the GitHub API at {self.api_url}: {type(e).__name__}"
                )
            else:
                if resp.status_code < 400:
                    return resp
                err = self._error(resp)
                if not (resp.status_code >= 500 or resp.status_code == 429 or _rate_limited(resp)):
                    raise err
            attempt += 1
            if attempt > self._retries:
                raise err
            time.sleep(self._delay(attempt, resp))

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        if resp is not None:
            ra = resp.headers.get("retry-after", "")
            if ra.isdigit():
                return min(float(ra), 60.0)
        return float(self._backoff * (2 ** (attempt - 1)))

    def _error(self, resp: httpx.Response) -> GitHubError:
        detail = ""
        try:
            data = resp.json()
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                detail = ": " + " ".join(data["message"].split())[:200]
        except ValueError:
            pass
        msg = (
            f"GitHub API {resp.request.method} {resp.url.path} answered {resp.status_code}{detail}"
        )
        if resp.status_code == 403 and not _rate_limited(resp):
            return CommentForbidden(msg, status=403)
        if resp.status_code == 401:
            msg += " (is GITHUB_TOKEN / the github-token input set?)"
        return GitHubError(msg, status=resp.status_code)

    # -- comments

    def iter_comments(self, number: int) -> Iterator[dict[str, Any]]:
        """Every comment on issue/PR ``number``, oldest first, page by page."""
        url: str | None = f"/repos/{self.repository}/issues/{int(number)}/comments"
        params: dict[str, Any] | None = {"per_page": 100}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            resp = self._request("GET", url, params=params)
            data = _json(resp)
            if not isinstance(data, list):
                raise GitHubError(f"GitHub API {resp.url.path} did not answer with a list")
            yield from (c for c in data if isinstance(c, dict))
            url = resp.links.get("next", {}).get("url")
            params = None  # the next link carries its own query
        raise GitHubError(f"pull request #{number} has more than {MAX_PAGES} pages of comments")

    def find_comment(self, number: int, marker: str) -> dict[str, Any] | None:
        """The comment whose body starts with ``marker`` (a bot's first, when people
        copied the marker into comments of their own)."""
        found = [
            c
            for c in self.iter_comments(number)
            if isinstance(c.get("body"), str) and c["body"].startswith(marker)
        ]
        bots = [c for c in found if (c.get("user") or {}).get("type") == "Bot"]
        pick = bots or found
        return pick[0] if pick else None

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        resp = self._request(
            "POST", f"/repos/{self.repository}/issues/{int(number)}/comments", json={"body": body}
        )
        return _object(resp)

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        resp = self._request(
            "PATCH",
            f"/repos/{self.repository}/issues/comments/{int(comment_id)}",
            json={"body": body},
        )
        return _object(resp)

    def upsert_comment(
        self, number: int, body: str, marker: str, *, create: bool = True
    ) -> CommentResult | None:
        """Update the marked comment, or create it: one comment per pull request.
        With ``create=False`` only an existing comment is updated (None when there is none)."""
        if not body.startswith(marker):
            body = f"{marker}\n{body}"
        existing = self.find_comment(number, marker)
        if existing is not None and isinstance(existing.get("id"), int):
            data = self.update_comment(existing["id"], body)
            action = "updated"
        elif not create:
            return None
        else:
            data = self.create_comment(number, body)
            action = "created"
        cid = data.get("id") if isinstance(data, dict) else None
        url = data.get("html_url") if isinstance(data, dict) else None
        return CommentResult(
            action, cid if isinstance(cid, int) else 0, url if isinstance(url, str) else None
        )


def _rate_limited(resp: httpx.Response) -> bool:
    return resp.status_code in (403, 429) and (
        resp.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in resp.headers
    )


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise GitHubError(
            f"GitHub API {resp.url.path} answered with something that is not JSON",
            status=resp.status_code,
        ) from None


def _object(resp: httpx.Response) -> dict[str, Any]:
    data = _json(resp)
    if not isinstance(data, dict):
        raise GitHubError(
            f"GitHub API {resp.url.path} did not answer with an object", status=resp.status_code
        )
    return data
