"""GitHub Actions and the GitHub REST API, as ``loomgit ci`` uses them.

Four concerns, each small:

- the Actions environment (``GITHUB_*`` variables and the event file) read into a
  frozen :class:`ActionsEnv`, with clear one-line errors for a broken event file;
- the files Actions reads back: the job summary (``$GITHUB_STEP_SUMMARY``, kept under
  1 MiB) and step outputs (``$GITHUB_OUTPUT``, heredoc syntax so values may hold
  newlines), and workflow commands (``::warning::``) escaped as the runner expects;
- a REST client (httpx) that keeps exactly one PR comment per marker: it pages through
  the existing comments (``Link: rel="next"``), updates the marked one or creates it,
  and turns a 403 into :class:`CommentForbidden` so the caller can fall back to the
  summary (pull requests from forks get a read-only token);
- Markdown escaping for text loomgit did not write (model output, case names, prompt
  ids from the pull request), so that it cannot hide, fake or restyle results, and
  truncation to GitHub's comment limit.

The token goes into the ``Authorization`` header and nowhere else: it is kept out of
``repr``, error messages and anything written to files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit.errors import InfraError, UsageError

if TYPE_CHECKING:
    import httpx

COMMENT_LIMIT = 65_536  # GitHub refuses longer comment bodies ("Body is too long")
SUMMARY_LIMIT = 1024 * 1024  # GitHub drops a step summary of 1 MiB or more
MARKER_PREFIX = "<!-- loomgit-ci"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
MAX_PAGES = 100  # 100 pages x 100 comments: far beyond any real pull request


class GitHubError(InfraError):
    """The GitHub API refused or failed a request (``status`` is the HTTP status, 0 for
    a network failure)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class CommentForbidden(GitHubError):
    """The token may not comment (403): typically a pull request from a fork."""


class EventError(UsageError):
    """The event file (``GITHUB_EVENT_PATH``) is missing or malformed."""


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class PullRequest:
    number: int
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    base_repo: str
    head_repo: str | None  # None when the fork was deleted

    @property
    def from_fork(self) -> bool:
        return self.head_repo is None or self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class ActionsEnv:
    """What loomgit needs from a GitHub Actions job, read from the environment."""

    in_actions: bool = False
    event_name: str | None = None
    event_path: str | None = None
    repository: str | None = None
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    run_id: str | None = None
    run_attempt: str | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    sha: str | None = None
    step_summary: str | None = None
    output: str | None = None
    pull_request: PullRequest | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionsEnv:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        repository = get("GITHUB_REPOSITORY")
        if repository is not None and not _REPO_RE.match(repository):
            raise UsageError(f"GITHUB_REPOSITORY={repository!r} is not OWNER/NAME")
        api_url = (get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        server_url = (get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
        for name, url in (("GITHUB_API_URL", api_url), ("GITHUB_SERVER_URL", server_url)):
            if not re.match(r"^https?://[^\s/]+", url):
                raise UsageError(f"{name}={url!r} is not an http(s) URL")
        event_path = get("GITHUB_EVENT_PATH")
        pr = None
        if event_path is not None:
            pr = pull_request_from_event(load_event(event_path), event_path, repository)
        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            event_name=get("GITHUB_EVENT_NAME"),
            event_path=event_path,
            repository=repository,
            api_url=api_url,
            server_url=server_url,
            run_id=get("GITHUB_RUN_ID"),
            run_attempt=get("GITHUB_RUN_ATTEMPT"),
            base_ref=get("GITHUB_BASE_REF"),
            head_ref=get("GITHUB_HEAD_REF"),
            sha=get("GITHUB_SHA"),
            step_summary=get("GITHUB_STEP_SUMMARY"),
            output=get("GITHUB_OUTPUT"),
            pull_request=pr,
            token=get("GITHUB_TOKEN"),
        )

    @property
    def run_url(self) -> str | None:
        """The run's page, where the job summary is shown."""
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        if self.run_attempt and self.run_attempt != "1":
            url += f"/attempts/{self.run_attempt}"
        return url


def load_event(path: str) -> dict[str, Any]:
    """The webhook payload GitHub wrote for this run."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventError("GITHUB_EVENT_PATH names a file that does not exist", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EventError(f"cannot read the event file: {e}", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise EventError(
            f"the event file is not valid JSON: {e.msg}", path=path, line=e.lineno
        ) from None
    if not isinstance(data, dict):
        raise EventError("the event file must hold a JSON object", path=path, line=1)
    return data


def pull_request_from_event(
    event: Mapping[str, Any], path: str = "event", repository: str | None = None
) -> PullRequest | None:
    """The pull request of a ``pull_request``/``pull_request_target`` event (None for
    other events: push, workflow_dispatch...)."""
    pr = event.get("pull_request")
    if pr is None:
        return None

    def bad(what: str) -> EventError:
        return EventError(f"pull_request.{what}", path=path)

    if not isinstance(pr, dict):
        raise bad("must be an object")
    number = pr.get("number", event.get("number"))
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise bad("number must be a positive integer")
    sides: dict[str, dict[str, Any]] = {}
    for side in ("base", "head"):
        s = pr.get(side)
        if not isinstance(s, dict):
            raise bad(f"{side} must be an object with ref and sha")
        sha = s.get("sha")
        if not isinstance(sha, str) or not _SHA_RE.match(sha):
            raise bad(f"{side}.sha must be a full commit id (40 hex digits)")
        ref = s.get("ref")
        if not isinstance(ref, str) or not ref:
            raise bad(f"{side}.ref must be a branch name")
        sides[side] = s

    def full_name(side: str) -> str | None:
        r = sides[side].get("repo")
        name = r.get("full_name") if isinstance(r, dict) else None
        return name if isinstance(name, str) and _REPO_RE.match(name) else None

    base_repo = full_name("base") or repository or ""
    return PullRequest(
        number=number,
        base_ref=sides["base"]["ref"],
        base_sha=sides["base"]["sha"],
        head_ref=sides["head"]["ref"],
        head_sha=sides["head"]["sha"],
        base_repo=base_repo,
        head_repo=full_name("head"),
    )


# --------------------------------------------------------------------------- runner files


def escape_command_data(text: str) -> str:
    """Escape a workflow command's message as the runner expects (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_command_property(text: str) -> str:
    return escape_command_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    """``::warning file=F,line=L,title=T::message`` (level: debug, notice, warning, error);
    with ``file``/``line`` GitHub shows it on that line of the pull request's diff."""
    if level not in ("debug", "notice", "warning", "error"):
        raise ValueError(level)
    props = []
    if file:
        props.append(f"file={escape_command_property(file)}")
    if line:
        props.append(f"line={int(line)}")
    if title:
        props.append(f"title={escape_command_property(title)}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    return head + escape_command_data(message)


def write_outputs(path: str | os.PathLike[str], values: Mapping[str, object]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (``name<<DELIM`` form, so a value may
    span lines; the delimiter is random and checked against the value)."""
    lines = []
    for name, value in values.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", name):
            raise ValueError(f"bad output name {name!r}")
        text = _output_text(value)
        delim = f"ghadelimiter_{secrets.token_hex(16)}"
        while delim in text:  # pragma: no cover - 128 random bits
            delim = f"ghadelimiter_{secrets.token_hex(16)}"
        lines.append(f"{name}<<{delim}\n{text}\n{delim}\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(lines))


def _output_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def write_summary(
    path: str | os.PathLike[str], markdown: str, *, limit: int = SUMMARY_LIMIT, note: str = ""
) -> bool:
    """Append ``markdown`` to the job summary, cut so the step's summary stays under
    ``limit`` bytes. Returns True when it had to cut."""
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    budget = limit - used - 1
    cut = len(markdown.encode("utf-8")) > budget
    if cut:
        tail = (
            "\n\n> [!WARNING]\n> The report was cut to fit GitHub's 1 MiB job-summary "
            "limit." + (f" {note}" if note else "") + "\n"
        )
        markdown = truncate_markdown(markdown, budget - len(tail.encode("utf-8")), unit="bytes")
        markdown += tail
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return cut


# --------------------------------------------------------------------------- Markdown

_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>=:\"'$^])")
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def md_text(text: object, limit: int | None = 300) -> str:
    """Text from outside loomgit (model output, case names, ids) made inert for a
    Markdown table cell or a line: one line, every Markdown character escaped, HTML
    characters as entities, @mentions broken, bidi and zero-width characters dropped.

    It cannot open a tag or comment (so it cannot hide what follows), start a table
    row, a heading, a link or an image, close a ``<details>``, or ping anyone.
    """
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = s.replace("@", "@&#8203;")  # as Dependabot does: no notification
    s = s.replace("\n", " ⏎ ")
    return s


def md_code(text: object, limit: int | None = 2000) -> str:
    """Text shown verbatim in a fenced block whose fence is longer than any run of
    backticks in it, so the text cannot close the block early. HTML inside a fenced
    block is not rendered. Zero-width and bidi characters are dropped."""
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub("", s).replace("\r\n", "\n").replace("\r", "\n")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    longest = max((len(m) for m in re.findall(r"`+|~+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{s}\n{fence}"


def _units(text: str, unit: str) -> int:
    if unit == "bytes":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2  # GitHub counts like JavaScript does


def truncate_markdown(markdown: str, budget: int, *, unit: str = "chars") -> str:
    """``markdown`` cut at a line boundary to at most ``budget`` units, with any open
    code fence and ``<details>`` closed so the rest of the page renders normally."""
    if _units(markdown, unit) <= budget:
        return markdown
    closing_room = 200
    lines = markdown.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = _units(line, unit) + 1
        if used + cost > budget - closing_room:
            break
        kept.append(line)
        used += cost
    out = "\n".join(kept)
    fence = None
    for line in kept:
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1).startswith(fence[0]) and len(m.group(1)) >= len(fence):
                fence = None
    if fence is not None:
        out += "\n" + fence
    open_details = out.count("<details") - out.count("</details>")
    out += "\n</details>" * max(open_details, 0)
    return out


def fit_comment(body: str, *, limit: int = COMMENT_LIMIT, summary_url: str | None = None) -> str:
    """``body`` unchanged if it fits a GitHub comment, else cut with a pointer to the
    job summary, where the full report is."""
    if _units(body, "chars") <= limit:
        return body
    where = f"[job summary]({summary_url})" if summary_url else "job summary of this run"
    tail = (
        f"\n\n> [!NOTE]\n> This comment was cut to fit GitHub's {limit:,}-character limit. "
        f"The full report is in the {where}.\n"
    )
    return truncate_markdown(body, limit - _units(tail, "chars") - 16) + tail


def marker_for(key: str = "loomgit") -> str:
    """The hidden first line that identifies loomgit's comment (one per ``key``, so
    two loomgit jobs on one pull request keep two comments)."""
    if not _KEY_RE.match(key):
        raise UsageError(f"comment key {key!r}: use letters, digits and . _ : / - (max 100)")
    return f"{MARKER_PREFIX}:{key} -->"


# --------------------------------------------------------------------------- REST client


@dataclass(frozen=True)
class CommentResult:
    action: str  # created | updated
    id: int
    url: str | None


class GitHubClient:
    """The few REST calls ``loomgit ci`` makes, on one ``httpx.Client``.

    Pass ``client`` to inject a transport in tests; the token is then added per request.
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
    ) -> None:
        import httpx

        if not _REPO_RE.match(repository):
            raise UsageError(f"repository {repository!r} is not OWNER/NAME")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self._retries = retries
        self._backoff = backoff
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
        from loomgit._version import __version__

        h = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"loomgit/{__version__}",
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


SECRET_SUFFIXES = (
    "_TOKEN",
    "_API_KEY",
    "_SECRET",
    "_PASSWORD",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
    "_SECRET_KEY",
)
