"""A CSV with an unclosed quote: the broken record is quarantined with the line its quote
opened on, and reading resumes on the next line, so no good row after it is lost
(issue 14, item 10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import GitRepo
from test_batch_run import SENTIMENT, SentimentServer, config, lines, run_json


@pytest.fixture
def server() -> Iterator[SentimentServer]:
    s = SentimentServer()
    yield s
    s.close()


# (CSV bytes, expected output indexes and texts, expected quarantine (index, line, reason))
CASES = {
    "good rows before and after": (
        b'id,text\n1,Great kettle\n2,Love it\n3,"never closed\n4,Broke after a week\n'
        b"5,Excellent value\n",
        {1: "Great kettle", 2: "Love it", 4: "Broke after a week", 5: "Excellent value"},
        [
            (
                3,
                4,
                "unclosed quote: the quoted field opened on line 4 is never closed"
                " (reading resumes at line 5)",
            )
        ],
    ),
    "unclosed quote on the last line": (
        b'id,text\n1,Great kettle\n2,"never closed',
        {1: "Great kettle"},
        [(2, 3, "unclosed quote: the quoted field opened on line 3 is never closed (end of file)")],
    ),
    "closed quoted field over lines still works": (
        b'id,text\n1,"Great\nkettle"\n2,"say ""hi"""\n3,Love it\n',
        {1: "Great\nkettle", 2: 'say "hi"', 3: "Love it"},
        [],
    ),
    "CRLF and a byte-order mark": (
        b'\xef\xbb\xbfid,text\r\n1,Great kettle\r\n2,"never closed\r\n3,Love it\r\n',
        {1: "Great kettle", 3: "Love it"},
        [
            (
                2,
                3,
                "unclosed quote: the quoted field opened on line 3 is never closed"
                " (reading resumes at line 4)",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unclosed_quote_quarantines_only_the_broken_record(
    repo: GitRepo,
    server: Any,
    cli: Any,
    case: str,
) -> None:
    data, want_out, want_q = CASES[case]
    repo.commit(
        "prompt and data",
        {
            "loomgit.yaml": config(server.url),
            "prompts/reviews/sentiment.prompt": SENTIMENT,
            "data/in.csv": data,
        },
    )
    code, s, _ = run_json(
        cli,
        [
            "reviews/sentiment",
            "--input",
            "data/in.csv",
            "--map",
            "review=text",
            "--output",
            "out/r.jsonl",
        ],
        repo.path,
    )
    assert code == 0
    c = s["counts"]
    total = len(want_out) + len(want_q)
    assert (c["records"], c["ok"], c["quarantined"], c["errors"]) == (
        total,
        len(want_out),
        len(want_q),
        0,
    )
    out = {r["index"]: r["input"]["text"] for r in lines(repo.path / "out/r.jsonl")}
    assert out == want_out
    q = [(r["index"], r["line"], r["reason"]) for r in lines(repo.path / "out/r.quarantine.jsonl")]
    assert q == want_q
    for r in lines(repo.path / "out/r.quarantine.jsonl"):
        assert r["stage"] == "read" and r["source"] == f"data/in.csv:{r['line']}"
        assert "missing column" not in r["reason"]


def test_unclosed_quote_in_the_header_is_one_line_exit_2(
    repo: GitRepo,
    server: Any,
    cli: Any,
) -> None:
    repo.commit(
        "prompt and data",
        {
            "loomgit.yaml": config(server.url),
            "prompts/reviews/sentiment.prompt": SENTIMENT,
            "data/in.csv": b'id,"text\n1,Great kettle\n',
        },
    )
    r = cli(
        ["run", "reviews/sentiment", "--input", "data/in.csv", "--output", "out/r.jsonl"],
        cwd=repo.path,
    )
    assert r.exit_code == 2, r.out + r.err
    assert r.err.strip().splitlines() == [
        "loomgit: error: data/in.csv:1: unclosed quote in the CSV header: the quoted field"
        " opened on line 1 is never closed"
    ]
    assert server.requests == 0
    assert not (repo.path / "out/r.quarantine.jsonl").exists()
