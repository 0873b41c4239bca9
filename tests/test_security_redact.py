"""Trust boundary: nothing loomgit publishes (PR comment, job summary, step outputs,
annotations, report.md/report.json, the eval's --output/--junit/--markdown files, the
HTML report) shows a secret, even when a prompt pulls one in or a model echoes one.

The layer under test is the redaction itself: these tests hold whether or not a prompt
can include ``.git/config`` (that hole is closed elsewhere; the second prompt below
brings the same credential in through a case variable, so this layer is tested either
way)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from conftest import CORPUS, GitRepo
from test_ci_github import TOKEN, FakeGitHub

from loomgit.github import Redactor, redact

GIT_CONFIG = (CORPUS / "security" / "secrets" / "git-config").read_text()
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
OPENAI = "sk-proj-Zk3v9QmX2pL8rT4wY6uB0nC5dE7fG1hJ"
ANTHROPIC = "sk-ant-api03-AbCdEf0123456789ghIjKlMnOpQrStUvWxYz-_AA"
PAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"
CUSTOM = "corp-credential-7f3a9b2c41"  # in a variable named only by api_key_env


def leaks(text: str, *secrets: str) -> list[str]:
    """The secrets (or a 12-character start of one) still visible in ``text``."""
    return [s for s in secrets if s in text or s[:12] in text]


# ------------------------------------------------------------------- the function


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            f"\textraheader = AUTHORIZATION: basic {BASIC}",
            "\textraheader = ***",
        ),
        (
            f"http.https://github.com/.extraheader=AUTHORIZATION: basic {BASIC}",
            "http.https://github.com/.extraheader=***",
        ),
        (f"Authorization: Bearer {TOKEN}", "Authorization: ***"),
        (f'"authorization": "token {TOKEN}"', '"authorization": "***"'),
        ('{"Authorization": "token abcdef123456"}', '{"Authorization": "***"}'),
        ('<h k="Authorization: Bearer abc123def4">', '<h k="Authorization: ***">'),
        ("Authorization: Basic eC1hY2Nl\\nnext", "Authorization: ***\\nnext"),
        (f"token {TOKEN} here", "token ghs_*** here"),
        ("ghp_" + "a1B2" * 9, "ghp_***"),
        ("gho_" + "Z9" * 18 + " and ghu_" + "x" * 36, "gho_*** and ghu_***"),
        (f"pat={PAT}", "pat=github_pat_***"),
        (f"key: {OPENAI}.", "key: sk-***."),
        (f"({ANTHROPIC})", "(sk-***)"),
        ("curl -H 'X: Bearer abc.DEF-123_xyz'", "curl -H 'X: Bearer ***'"),
        (f"basic {BASIC}", "basic ***"),
        ("a basic understanding of bearer bonds", "a basic understanding of bearer bonds"),
        ("task-list and sk-short stay", "task-list and sk-short stay"),
        ("risk-assessment-for-the-whole-team", "risk-assessment-for-the-whole-team"),
        ("pasted:sk-proj-" + "a1" * 12, "pasted:sk-***"),
    ],
)
def test_credential_shapes_are_cut_to_their_kind(text: str, expected: str) -> None:
    assert redact(text, {}) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        (f"AUTHORIZATION: BEARER {TOKEN}", "AUTHORIZATION: ***"),
        ("BASIC dXNlcjpwYXNzMTIz=", "BASIC ***"),
        ("GHP_ and GitHub_PAT_ in prose", "GHP_ and GitHub_PAT_ in prose"),
        # not ASCII: IGNORECASE matches the long s and the Kelvin sign as s and k
        ("Baſic dXNlcjpwYXNzMTIz= — naïve", "Baſic *** — naïve"),
        ("\u212aey: Bearer abc123def4 ∎", "\u212aey: Bearer *** ∎"),
        ("\u212aey: ſk-proj-" + "a1" * 12, "\u212aey: ſk-proj-" + "a1" * 12),  # sk- is lower case
        ("ÜBER Bearer abc123def4", "ÜBER Bearer ***"),
    ],
)
def test_shapes_are_found_in_any_case_and_beside_other_scripts(text: str, expected: str) -> None:
    assert redact(text, {}) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"output": "all clear", "n": 3, "tags": ["a", "b"], "nested": {"x": None}},
        {"output": f"the key is {OPENAI}"},
        {"output": 'quote"d\\secret\n-value-42 inside'},  # the variable's value, escaped in JSON
        {"Authorization": "yes"},  # a shape in a key
        {"log": ["line one", "\tBearer abc123def4"]},  # after a tab, escaped as \t in JSON
        {"answer": "ſk and Baſic dXNlcjpwYXNzMTIz= here"},
        {"when": Path("/tmp/x"), "output": f"see {CUSTOM}"},  # not JSON: written as str()
    ],
)
def test_json_data_hides_what_data_hides(value: Any) -> None:
    red = Redactor({"DB_PASSWORD": 'quote"d\\secret\n-value-42', "CORP": CUSTOM}, ["CORP"])
    assert red.json_data(value) == red.data(value)
    assert json.dumps(red.json_data(value), default=str) == json.dumps(red.data(value), default=str)


def test_the_values_of_secret_variables_are_hidden_whatever_their_shape() -> None:
    env = {
        "GITHUB_TOKEN": "plain-token-value-1",
        "MY_SERVICE_KEY": "service-key-value-2",
        "DB_SECRET": "db-secret-value-3",
        "CORP_LLM": CUSTOM,
        "HOME": "/home/someone-long",
        "SHORT_KEY": "abc",  # too short to hide without blanking words
        "LOOMGIT_CACHE_KEY": "loomgit-setting-not-a-secret",
    }
    red = Redactor(env, names=["CORP_LLM"])
    text = " ".join(env.values())
    assert red.text(text) == ("*** *** *** *** /home/someone-long abc loomgit-setting-not-a-secret")
    assert Redactor(env).text(CUSTOM) == CUSTOM  # named only by a provider's api_key_env


@pytest.mark.parametrize(
    "secret,mask",
    [
        (TOKEN, "ghs_***"),
        ("ghs_" + "q" * 200, "ghs_***"),
        (OPENAI, "sk-***"),
        (OPENAI + "x" * 50, "sk-***"),
        (ANTHROPIC, "sk-***"),
        (f"Bearer {BASIC}", "Bearer ***"),
    ],
)
def test_a_mask_never_shows_the_length_or_the_start_of_a_secret(secret: str, mask: str) -> None:
    assert redact(f"[{secret}]", {}) == f"[{mask}]"
    assert redact(f"[{secret}]", {"GITHUB_TOKEN": secret}) == "[***]"


@dataclass(frozen=True)
class Inner:
    text: str
    n: int = 1


@dataclass
class Outer:
    items: list[Inner]
    by: dict[str, tuple[str, ...]]


def test_data_is_redacted_before_it_is_cut_and_the_original_is_left_alone() -> None:
    data = Outer([Inner(f"key {OPENAI}")], {"k": ("x", f"Bearer {TOKEN}")})
    clean = Redactor({}).data(data)
    assert clean.items[0] == Inner("key sk-***") and clean.by == {"k": ("x", "Bearer ghs_***")}
    assert data.items[0].text == f"key {OPENAI}"  # a copy, not an edit


# ------------------------------------------------------------------- loomgit ci

INCLUDE = '---\nmodel: echo\n---\nHere is the config:\n{% include ".git/config" %}\n'
VIA_VAR = "---\nmodel: echo\nvariables:\n  blob: {type: string}\n---\n{{ blob }}\n"
FAILING = "providers: [echo]\ncases:\n  - name: leak\n    vars: {blob: %s}\n    assert:\n      - contains: never-there\n"


@pytest.fixture
def fake() -> Any:
    f = FakeGitHub().start()
    try:
        yield f
    finally:
        f.stop()


def test_ci_publishes_no_credential_from_git_config(
    repo: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("base", {"README.md": "hi"})
    # what actions/checkout leaves behind: the job's token as a git extraheader
    repo.git("config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {BASIC}")
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit(
        "two prompts that publish the checkout's credential",
        {
            "prompts/include.prompt": INCLUDE,
            "prompts/include.tests.yaml": FAILING.replace("    vars: {blob: %s}\n", ""),
            "prompts/viavar.prompt": VIA_VAR,
            "prompts/viavar.tests.yaml": FAILING % json.dumps(GIT_CONFIG),
        },
    )
    event = tmp_path / "event.json"
    base, head = repo.git("rev-parse", "main"), repo.git("rev-parse", "HEAD")
    pr = {
        "number": 3,
        "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/p"}},
        "head": {"ref": "pr", "sha": head, "repo": {"full_name": "octo/p"}},
    }
    event.write_text(json.dumps({"number": 3, "pull_request": pr}))
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "octo/p",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "9",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_TOKEN": TOKEN,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = cli(["ci"], cwd=repo.path)
    assert r.exit_code in (0, 1, 3), r.err
    [comment] = fake.comments[3]
    published = {
        "comment": comment["body"],
        "summary": summary.read_text(),
        "outputs": output.read_text(),
        "report.md": (tmp_path / "loomgit" / "report.md").read_text(),
        "report.json": (tmp_path / "loomgit" / "report.json").read_text(),
        "log": r.out + r.err,
    }
    for where, text in published.items():
        assert not leaks(text, BASIC, TOKEN), where
    # the credential did reach the report, as a mask: the layer did the work
    assert "extraheader = ***" in published["comment"]
    report = json.loads(published["report.json"])  # still well-formed after redaction
    outputs = [c["output_after"] or "" for p in report["prompts"] for c in p["cases"]]
    assert any("extraheader = ***" in o for o in outputs), outputs


# ------------------------------------------------------------------- loomgit eval

ECHO_KEY = "---\nmodel: echo\nvariables:\n  key: {type: string}\n---\nMy key is {{ key }}\n"


def test_a_model_answer_that_echoes_a_key_is_redacted_in_every_report_file(
    repo: GitRepo, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORP_LLM", CUSTOM)
    cases = "".join(
        f"  - name: echo-{i}\n    vars: {{key: {json.dumps(k)}}}\n"
        "    assert:\n      - contains: never-there\n"
        for i, k in enumerate(
            [OPENAI, ANTHROPIC, CUSTOM, "x" * 1000 + OPENAI, f'Authorization: "Bearer {BASIC}"']
        )
    )
    repo.commit(
        "a prompt whose answer holds keys",
        {
            "loomgit.yaml": (
                "providers:\n  corp: {type: openai, base_url: 'http://127.0.0.1:9', "
                "api_key_env: CORP_LLM}\n"
            ),
            "prompts/echo.prompt": ECHO_KEY,
            "prompts/echo.tests.yaml": "providers: [echo]\ncases:\n" + cases,
        },
    )
    out = {k: tmp_path / f"report.{k}" for k in ("json", "xml", "md")}
    r = cli(
        [
            "eval",
            "--json",
            "-o",
            str(out["json"]),
            "--junit",
            str(out["xml"]),
            "--markdown",
            str(out["md"]),
        ],
        cwd=repo.path,
    )
    assert r.exit_code == 1, r.err
    written = {k: p.read_text() for k, p in out.items()} | {"stdout": r.out}
    for where, text in written.items():
        assert not leaks(text, OPENAI, ANTHROPIC, CUSTOM), where
        assert where == "md" or "sk-***" in text, where  # the Markdown shows no outputs
    assert "My key is ***" in written["json"]
    assert not leaks("".join(written.values()), BASIC)
    # each file is still well-formed: a mask never eats a quote or a tag
    assert json.loads(written["stdout"]) == json.loads(written["json"])
    xml = ElementTree.fromstring(written["xml"])
    assert len(xml.findall(".//testcase")) >= 5

    # a shard report merged later is written through the same layer
    merged = tmp_path / "merged.json"
    raw = json.loads(out["json"].read_text())
    raw["results"][0]["output"] = f"late {OPENAI}"
    out["json"].write_text(json.dumps(raw))
    r = cli(["report", "merge", str(out["json"]), "-o", str(merged)], cwd=repo.path)
    assert r.exit_code == 1, r.err
    assert "late sk-***" in merged.read_text()
    assert not leaks(merged.read_text(), OPENAI)


def test_the_html_report_shows_no_token_from_a_commit_message(
    repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    repo.commit("add", {"prompts/a.prompt": "---\nmodel: echo\n---\nhello\n"})
    repo.commit(f"oops: pasted {TOKEN}", {"prompts/a.prompt": "---\nmodel: echo\n---\nhello!\n"})
    page = tmp_path / "r.html"
    r = cli(["report", "--html", str(page)], cwd=repo.path)
    assert r.exit_code == 0, r.err
    html = page.read_text()
    assert "oops: pasted ghs_***" in html and not leaks(html, TOKEN)
