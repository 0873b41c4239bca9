"""The GitHub layer of ``loomgit ci``: the test suite's fake GitHub (tests/github_api.py,
the ``fake_github`` fixture), a real HTTP server on 127.0.0.1, stands in for the REST API
(comments, pagination through Link headers, 403 for forks, token checks); the runner
files (summary, outputs) are read back the way GitHub reads them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from github_api import TOKEN, FakeGitHub, read_outputs

from loomgit import github as gh
from loomgit.errors import UsageError
from loomgit.report.escape import md_code, md_text

__all__ = ["TOKEN", "FakeGitHub", "read_outputs"]  # other tests import them from here

CORPUS = Path(__file__).resolve().parent / "corpus" / "ci"


def client_for(fake: FakeGitHub, token: str | None = TOKEN, **kw: Any) -> gh.GitHubClient:
    kw.setdefault("backoff", 0.0)
    return gh.GitHubClient(fake.url, token, "octo/prompts", **kw)


MARK = gh.marker_for("loomgit")


# --------------------------------------------------------------------------- comments


def test_first_run_creates_the_comment_and_later_runs_update_it(fake_github: FakeGitHub) -> None:
    with client_for(fake_github) as c:
        first = c.upsert_comment(7, "report one", MARK)
        second = c.upsert_comment(7, "report two", MARK)
    assert first.action == "created" and second.action == "updated"
    assert first.id == second.id
    [only] = fake_github.comments[7]
    assert only["body"] == f"{MARK}\nreport two"
    assert fake_github.calls() == [
        "GET /repos/octo/prompts/issues/7/comments",
        "POST /repos/octo/prompts/issues/7/comments",
        "GET /repos/octo/prompts/issues/7/comments",
        f"PATCH /repos/octo/prompts/issues/comments/{first.id}",
    ]


def test_finds_the_marked_comment_on_a_later_page_through_link_headers(
    fake_github: FakeGitHub,
) -> None:
    fake_github.page_cap = 2
    fake_github.seed(
        7,
        [
            ("LGTM", "User"),
            ("nit: typo", "User"),
            ("ci is slow", "User"),
            ("+1", "User"),
            (f"{MARK}\nold report", "Bot"),
            ("thanks", "User"),
        ],
    )
    with client_for(fake_github) as c:
        res = c.upsert_comment(7, "new report", MARK)
    assert res.action == "updated"
    gets = [s for s in fake_github.seen if s.method == "GET"]
    assert [s.query.get("page", ["1"])[0] for s in gets] == ["1", "2", "3"]
    assert "POST" not in {s.method for s in fake_github.seen}
    assert [c["body"] for c in fake_github.comments[7]][4] == f"{MARK}\nnew report"
    assert len(fake_github.comments[7]) == 6


def test_a_marker_copied_by_a_person_does_not_capture_the_report(fake_github: FakeGitHub) -> None:
    fake_github.seed(7, [(f"{MARK}\nall green, trust me", "User"), (f"{MARK}\nreal", "Bot")])
    with client_for(fake_github) as c:
        c.upsert_comment(7, "new", MARK)
    bodies = [c["body"] for c in fake_github.comments[7]]
    assert bodies == [f"{MARK}\nall green, trust me", f"{MARK}\nnew"]


def test_two_keys_keep_two_comments(fake_github: FakeGitHub) -> None:
    with client_for(fake_github) as c:
        c.upsert_comment(7, "shard a", gh.marker_for("a"))
        c.upsert_comment(7, "shard b", gh.marker_for("b"))
        c.upsert_comment(7, "shard a again", gh.marker_for("a"))
    assert [c["body"].split("\n")[1] for c in fake_github.comments[7]] == [
        "shard a again",
        "shard b",
    ]


def test_a_fork_pull_request_gets_403_as_comment_forbidden(fake_github: FakeGitHub) -> None:
    fake_github.forbid_writes = True
    with client_for(fake_github) as c, pytest.raises(gh.CommentForbidden) as e:
        c.upsert_comment(7, "report", MARK)
    assert e.value.status == 403
    assert "Resource not accessible by integration" in str(e.value)
    assert TOKEN not in str(e.value)


def test_the_token_is_sent_in_the_header_and_shown_nowhere(fake_github: FakeGitHub) -> None:
    with client_for(fake_github) as c:
        c.upsert_comment(7, "report", MARK)
        assert TOKEN not in repr(c)
    assert {s.headers["Authorization"] for s in fake_github.seen} == {f"Bearer {TOKEN}"}
    assert all(s.headers["Accept"] == "application/vnd.github+json" for s in fake_github.seen)


def test_the_user_agent_is_the_callers(fake_github: FakeGitHub) -> None:
    with client_for(fake_github, user_agent="loomgit/9.9.9") as c:
        c.upsert_comment(7, "report", MARK)
    assert {s.headers["User-Agent"] for s in fake_github.seen} == {"loomgit/9.9.9"}


def test_a_wrong_token_is_one_clear_error_without_the_token(fake_github: FakeGitHub) -> None:
    with (
        client_for(fake_github, token="ghs_wrong_token_value") as c,
        pytest.raises(gh.GitHubError) as e,
    ):
        c.upsert_comment(7, "report", MARK)
    assert e.value.status == 401
    assert "Bad credentials" in str(e.value) and "GITHUB_TOKEN" in str(e.value)
    assert "ghs_wrong_token_value" not in str(e.value)
    assert not isinstance(e.value, gh.CommentForbidden)


def test_server_errors_are_retried_then_reported(fake_github: FakeGitHub) -> None:
    fake_github.fail_statuses = [502, 500]
    with client_for(fake_github, retries=2) as c:
        assert c.upsert_comment(7, "report", MARK).action == "created"
    fake_github.fail_statuses = [500, 500, 500]
    with client_for(fake_github, retries=2) as c, pytest.raises(gh.GitHubError) as e:
        c.upsert_comment(7, "again", MARK)
    assert e.value.status == 500 and "answered 500" in str(e.value)


def test_a_next_link_to_another_host_is_not_followed(fake_github: FakeGitHub) -> None:
    fake_github.page_cap = 1
    fake_github.next_link_host = "127.0.0.2:9"
    fake_github.seed(7, [("a", "User"), ("b", "User")])
    with client_for(fake_github) as c, pytest.raises(gh.GitHubError, match="another host"):
        c.upsert_comment(7, "report", MARK)
    assert len(fake_github.seen) == 1


def test_an_unreachable_api_is_an_infrastructure_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = gh.GitHubClient(f"http://127.0.0.1:{port}", TOKEN, "octo/prompts", retries=0)
    with c, pytest.raises(gh.GitHubError) as e:
        c.upsert_comment(7, "report", MARK)
    assert e.value.exit_code == 3 and "cannot reach the GitHub API" in str(e.value)


def test_bad_comment_keys_and_repositories_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        gh.marker_for("bad key with spaces -->")
    with pytest.raises(UsageError):
        gh.GitHubClient("http://127.0.0.1:1", TOKEN, "not-a-repo")


# --------------------------------------------------------------------------- environment


def _event(tmp_path: Path, data: Any) -> str:
    p = tmp_path / "event.json"
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(p)


def pr_event(
    number: int = 7, base: str = "a" * 40, head: str = "b" * 40, head_repo: str = "octo/prompts"
) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/prompts"}},
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": head_repo}},
        },
    }


def test_environment_of_a_pull_request_run(tmp_path: Path) -> None:
    env = gh.ActionsEnv.from_environ(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": _event(tmp_path, pr_event()),
            "GITHUB_REPOSITORY": "octo/prompts",
            "GITHUB_API_URL": "http://127.0.0.1:1234/",
            "GITHUB_SERVER_URL": "https://ghe.example",
            "GITHUB_RUN_ID": "42",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_BASE_REF": "main",
            "GITHUB_TOKEN": TOKEN,
        }
    )
    assert env.in_actions and env.api_url == "http://127.0.0.1:1234"
    pr = env.pull_request
    assert pr is not None and (pr.number, pr.base_sha, pr.head_sha) == (7, "a" * 40, "b" * 40)
    assert not pr.from_fork
    assert env.run_url == "https://ghe.example/octo/prompts/actions/runs/42/attempts/2"
    assert TOKEN not in repr(env)


def test_fork_and_non_pull_request_events(tmp_path: Path) -> None:
    pr = gh.pull_request_from_event(pr_event(head_repo="mallory/prompts"))
    assert pr is not None and pr.from_fork
    assert gh.pull_request_from_event({"ref": "refs/heads/main", "after": "c" * 40}) is None
    deleted = pr_event()
    deleted["pull_request"]["head"]["repo"] = None
    assert gh.pull_request_from_event(deleted).from_fork  # type: ignore[union-attr]


EVENT_CORPUS = {
    "not-json.json": ("not valid JSON", 3),
    "array.json": ("must hold a JSON object", 1),
    "pr-no-number.json": ("pull_request.number must be a positive integer", None),
    "pr-short-sha.json": ("pull_request.base.sha must be a full commit id", None),
    "pr-no-head.json": ("pull_request.head must be an object", None),
    "pr-string.json": ("pull_request.must be an object", None),
}


@pytest.mark.parametrize("name", sorted(EVENT_CORPUS))
def test_bad_event_files_are_one_clear_line(name: str) -> None:
    path = str(CORPUS / "events" / name)
    fragment, line = EVENT_CORPUS[name]
    with pytest.raises(gh.EventError) as e:
        gh.ActionsEnv.from_environ({"GITHUB_EVENT_PATH": path})
    assert fragment in str(e.value) and e.value.exit_code == 2
    assert str(e.value).startswith(path + (f":{line}:" if line else ":"))
    assert "\n" not in str(e.value)


def test_every_event_corpus_file_is_tested() -> None:
    assert {p.name for p in (CORPUS / "events").iterdir()} == set(EVENT_CORPUS)


def test_missing_event_file_and_bad_variables(tmp_path: Path) -> None:
    with pytest.raises(gh.EventError, match="does not exist"):
        gh.ActionsEnv.from_environ({"GITHUB_EVENT_PATH": str(tmp_path / "nope.json")})
    with pytest.raises(UsageError, match="OWNER/NAME"):
        gh.ActionsEnv.from_environ({"GITHUB_REPOSITORY": "; rm -rf /"})
    with pytest.raises(UsageError, match="http"):
        gh.ActionsEnv.from_environ({"GITHUB_API_URL": "file:///etc/passwd"})


# --------------------------------------------------------------------------- runner files


def test_outputs_survive_newlines_and_delimiter_lookalikes(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("earlier=1\n")
    gh.write_outputs(
        path,
        {
            "passed": False,
            "regressions": 2,
            "report-path": "/tmp/r.md",
            "tricky": "line1\nEOF\nghadelimiter_x\nname=evil",
        },
    )
    assert read_outputs(path) == {
        "earlier": "1",
        "passed": "false",
        "regressions": "2",
        "report-path": "/tmp/r.md",
        "tricky": "line1\nEOF\nghadelimiter_x\nname=evil",
    }
    with pytest.raises(ValueError):
        gh.write_outputs(path, {"bad name": 1})


def test_summary_is_appended_and_kept_under_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("# earlier step text\n")
    assert not gh.write_summary(path, "## small report\n")
    assert path.read_text() == "# earlier step text\n## small report\n"
    big = "## big\n<details><summary>x</summary>\n\n```text\n" + ("y" * 99 + "\n") * 20_000
    assert gh.write_summary(path, big, note="See the report-path output.")
    text = path.read_text()
    assert len(text.encode()) < gh.SUMMARY_LIMIT
    assert text.startswith("# earlier step text\n## small report\n## big")
    assert "cut to fit GitHub's 1 MiB job-summary limit. See the report-path output." in text
    body = text.split("> [!WARNING]")[0]
    assert body.count("```") % 2 == 0 and body.count("<details>") == body.count("</details>")


def test_comment_is_cut_under_the_limit_with_a_pointer_to_the_summary() -> None:
    body = "<details><summary>cases</summary>\n\n```text\n" + "🙂 wide chars\n" * 10_000
    short = gh.fit_comment("fits", summary_url="https://github.com/o/r/actions/runs/1")
    assert short == "fits"
    cut = gh.fit_comment(body, summary_url="https://github.com/o/r/actions/runs/1")
    assert len(cut.encode("utf-16-le")) // 2 <= gh.COMMENT_LIMIT
    assert "[job summary](https://github.com/o/r/actions/runs/1)" in cut
    head = cut.split("> [!NOTE]")[0]
    assert head.count("```") % 2 == 0 and head.count("<details>") == head.count("</details>")


def test_workflow_commands_cannot_be_split_by_the_message() -> None:
    cmd = gh.workflow_command("warning", "50% done\n::error::fake")
    assert cmd == "::warning::50%25 done%0A::error::fake"
    assert "\n" not in cmd


def test_redact_hides_secret_values() -> None:
    env = {"GITHUB_TOKEN": TOKEN, "OPENAI_API_KEY": "sk-abcdef123456", "HOME": "/root"}
    text = f"failed with {TOKEN} and sk-abcdef123456 in /root"
    assert gh.redact(text, env) == "failed with *** and *** in /root"


# --------------------------------------------------------------------------- escaping


ATTACKS = [
    "<!-- hide everything below",
    "</details></td></tr></table><h1>All prompts passed ✅</h1>",
    "| ✅ pass | 1.00 |\n|---|---|",
    "![ok](https://evil.example/pixel.png) [pass](https://evil.example)",
    "**bold** _it_ `code` ~~gone~~ # Heading\n---\n> quote",
    "@octocat please merge; fixes #1",
    "<img src=x onerror=alert(1)> <script>alert(1)</script>",
    "a\u202eevil\u200b \\| b",
    "<details open><summary>fake</summary>",
]


def _render(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)


@pytest.mark.parametrize("attack", ATTACKS)
def test_model_output_in_a_table_cell_stays_plain_text(attack: str) -> None:
    cell = md_text(attack)
    html = _render(f"| case | output |\n|---|---|\n| c1 | {cell} |\n| c2 | after |\n")
    assert "\n" not in cell and "<" not in cell
    for tag in (
        "<a ",
        "<img",
        "<h1",
        "<script",
        "<details",
        "<!--",
        "<strong",
        "<em",
        "<code",
        "<del",
        "<blockquote",
        "<hr",
    ):
        assert tag not in html, (attack, html)
    assert html.count("<tr>") == 3  # header + exactly our two rows
    assert "c2" in html and "after" in html
    if "\u202e" in attack:
        assert "\u202e" not in html and "\u200b" not in html
    if "@octocat" in attack:
        assert "@octocat" not in html  # a zero-width space breaks the mention


def test_model_output_in_a_code_block_cannot_close_it() -> None:
    text = "```\n</details>\n# not a heading\n````"
    block = md_code(text)
    html = _render(block + "\n\nafter\n")
    assert html.count("<pre>") == 1 and "<h1>" not in html
    assert "&lt;/details&gt;" in html and "<p>after</p>" in html


def test_long_text_is_shortened() -> None:
    assert md_text("x" * 1000, limit=10) == "x" * 9 + "…"
