"""The pull-request comment: the hidden marker that identifies loomgit's comment, and
Markdown cut to GitHub's limits with open code fences and ``<details>`` closed."""

from __future__ import annotations

import re

from loomgit.errors import UsageError

COMMENT_LIMIT = 65_536  # GitHub refuses longer comment bodies ("Body is too long")
MARKER_PREFIX = "<!-- loomgit-ci"
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")


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
