"""Batch inputs: streaming readers for JSONL, JSON arrays and CSV, over a bad-data corpus.

Each bad record must come back with its number, its line and a reason a person can act
on, and reading must go on; only a file that is unusable as a whole is an error."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from loomgit.errors import EXIT_USAGE, UsageError
from loomgit.inputs.mapping import check_mapping, parse_map, select_vars
from loomgit.inputs.reader import RecordReader
from loomgit.inputs.record import InputError
from loomgit.prompt.model import Variable

CORPUS = Path(__file__).parent / "corpus" / "batch" / "inputs"


def read(name: str, fmt: str | None = None) -> list[tuple[int, int, object, str | None]]:
    with RecordReader(str(CORPUS / name), fmt) as r:
        return [(rec.index, rec.line, rec.data, rec.error) for rec in r]


# (file, [(index, line, data or None, reason fragment or None), ...])
GOOD_AND_BAD = [
    (
        "malformed_line.jsonl",
        [
            (1, 1, {"review": "Great kettle"}, None),
            (
                2,
                2,
                None,
                "invalid JSON: Expecting property name enclosed in double quotes (column 21)",
            ),
            (3, 4, {"review": "Fine"}, None),
        ],
    ),
    (
        "not_object.jsonl",
        [
            (1, 1, {"review": "ok"}, None),
            (2, 2, None, "a record must be a JSON object, got an array"),
            (3, 3, None, "a record must be a JSON object, got a string"),
            (4, 4, None, "a record must be a JSON object, got a number"),
        ],
    ),
    (
        "bad_utf8.jsonl",
        [
            (1, 1, {"review": "good"}, None),
            (2, 2, None, "not valid UTF-8 (byte 0xe9 at column 16)"),
            (3, 3, {"review": "fine"}, None),
        ],
    ),
    (
        "nan.jsonl",
        [(1, 1, None, "invalid JSON: NaN is not valid JSON"), (2, 2, {"review": "y"}, None)],
    ),
    (
        "truncated_last.jsonl",
        [(1, 1, {"review": "one"}, None), (2, 2, None, "invalid JSON: Unterminated string")],
    ),
    (
        "missing_column.csv",
        [
            (1, 2, {"id": "1", "review": "Great kettle", "stars": "5"}, None),
            (2, 3, None, "missing column(s) 'stars' (the row has 2 of 3 fields)"),
            (3, 4, {"id": "3", "review": "Fine", "stars": "4"}, None),
        ],
    ),
    (
        "extra_field.csv",
        [
            (1, 2, None, "the row has 3 fields but the header has 2 columns"),
            (2, 3, {"id": "2", "review": "Fine"}, None),
        ],
    ),
    (
        "bad_utf8.csv",
        [
            (1, 2, {"id": "1", "review": "Nice"}, None),
            (2, 3, None, "not valid UTF-8 (byte 0xe9 in column 'review')"),
            (3, 4, {"id": "3", "review": "Good"}, None),
        ],
    ),
    (
        "quoted_newline.csv",
        [
            (1, 2, {"id": "1", "review": "two\nlines"}, None),
            (2, 4, {"id": "2", "review": 'say "hi"'}, None),
        ],
    ),
    (
        "nul_byte.csv",
        [
            (1, 2, {"id": "1", "review": "ok"}, None),
            (2, 3, None, "contains a NUL byte (binary data?)"),
            (3, 4, {"id": "3", "review": "fine"}, None),
        ],
    ),
    ("bom.csv", [(1, 2, {"id": "1", "review": "with a BOM"}, None)]),
    (
        "unclosed_quote.csv",
        [
            (1, 2, {"id": "1", "review": "Great kettle"}, None),
            (2, 3, None, "unclosed quote: the quoted field opened on line 3 is never closed"),
            (3, 4, {"id": "3", "review": "Fine"}, None),
            (4, 5, {"id": "4", "review": "Good"}, None),
        ],
    ),
    (
        "unclosed_quote_last.csv",
        [
            (1, 2, {"id": "1", "review": "Great kettle"}, None),
            (
                2,
                3,
                None,
                "unclosed quote: the quoted field opened on line 3 is never closed (end of file)",
            ),
        ],
    ),
    (
        "unclosed_quote_crlf_bom.csv",
        [
            (1, 2, {"id": "1", "review": "two\r\nlines"}, None),
            (
                2,
                4,
                None,
                "unclosed quote: the quoted field opened on line 4 is never closed (reading resumes at line 5)",
            ),
            (3, 5, {"id": "3", "review": "Fine"}, None),
        ],
    ),
    (
        "unclosed_quote_escaped.csv",
        [
            (1, 2, {"id": "1", "review": "closed\nover lines"}, None),
            (2, 4, None, "unclosed quote: the quoted field opened on line 4 is never closed"),
            (3, 5, {"id": "3", "review": "Fine"}, None),
        ],
    ),
    ("header_only.csv", []),
    (
        "array_bad_element.json",
        [
            (1, 2, {"review": "good"}, None),
            (2, 3, None, "invalid JSON: Expecting value (column 12)"),
            (3, 4, None, "a record must be a JSON object, got an array"),
            (4, 5, None, "not valid UTF-8 (byte 0xe9 at column 16)"),
            (5, 6, {"review": 'last, with [brackets] and "quotes"'}, None),
        ],
    ),
    (
        "array_truncated.json",
        [
            (1, 2, {"review": "one"}, None),
            (2, 3, None, "the file ends inside this record (truncated?)"),
        ],
    ),
    ("array_unclosed.json", [(1, 2, {"review": "one"}, None), (2, 3, {"review": "two"}, None)]),
    (
        "array_empty_element.json",
        [
            (1, 1, {"review": "a"}, None),
            (2, 1, None, "empty element (two commas in a row?)"),
            (3, 1, {"review": "b"}, None),
        ],
    ),
]


@pytest.mark.parametrize("name,expected", GOOD_AND_BAD, ids=[g[0] for g in GOOD_AND_BAD])
def test_each_bad_record_is_reported_and_reading_goes_on(name: str, expected: list) -> None:
    got = read(name)
    assert [(i, ln) for i, ln, _, _ in got] == [(i, ln) for i, ln, _, _ in expected]
    for (_, _, data, err), (_, _, want_data, want_err) in zip(got, expected):
        if want_err is None:
            assert err is None and data == want_data
        else:
            assert data is None and err is not None and err.startswith(want_err), err


def test_a_truncated_or_unclosed_array_is_noted_as_a_warning() -> None:
    with RecordReader(str(CORPUS / "array_unclosed.json")) as r:
        list(r)
    assert any("not closed" in w for w in r.warnings)


# (file, message, line)
WHOLE_FILE = [
    ("empty.csv", "empty CSV file: no header row", 1),
    ("dup_header.csv", "duplicate column name(s) in the CSV header: review", 1),
    ("blank_header.csv", "column 2 of the CSV header has no name", 1),
    ("bad_header_utf8.csv", "the CSV header is not valid UTF-8", 1),
    (
        "not_array.json",
        "expected a JSON array of records ([{...}, {...}]); for one object per "
        "line name the file .jsonl or pass --format jsonl",
        1,
    ),
    ("not_json.json", "expected a JSON array of records, found 'r'", 1),
]


@pytest.mark.parametrize("name,message,line", WHOLE_FILE, ids=[w[0] for w in WHOLE_FILE])
def test_an_unusable_file_is_one_usage_error_with_file_and_line(
    name: str, message: str, line: int
) -> None:
    with pytest.raises(InputError) as ei:
        read(name)
    e = ei.value
    assert e.message == message
    assert e.line == line and e.path and e.path.endswith(name)
    assert e.exit_code == EXIT_USAGE


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        RecordReader(str(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="is a folder"):
        RecordReader(str(tmp_path))


def test_format_comes_from_the_name_or_the_first_byte(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text('[{"a": 1}]')
    (tmp_path / "lines.log").write_text('{"a": 1}\n{"a": 2}\n')
    (tmp_path / "t.tsv").write_text("a\tb\n1\t2\n")
    (tmp_path / "what.dat").write_text("a,b\n")
    with RecordReader(str(tmp_path / "data.txt")) as r:
        assert r.format == "json" and [x.data for x in r] == [{"a": 1}]
    with RecordReader(str(tmp_path / "lines.log")) as r:
        assert r.format == "jsonl" and len(list(r)) == 2
    with RecordReader(str(tmp_path / "t.tsv")) as r:
        assert [x.data for x in r] == [{"a": "1", "b": "2"}]
    with pytest.raises(InputError, match="pass --format"):
        RecordReader(str(tmp_path / "what.dat"))
    with RecordReader(str(tmp_path / "what.dat"), "csv") as r:
        assert r.format == "csv" and list(r) == []


def test_record_size_limit_skips_the_record_not_the_file(tmp_path: Path) -> None:
    big = "x" * 5000
    p = tmp_path / "big.jsonl"
    p.write_text(f'{{"a": "small"}}\n{{"a": "{big}"}}\n{{"a": "after"}}\n')
    with RecordReader(str(p), max_record_bytes=1000) as r:
        got = list(r)
    assert [g.data for g in got] == [{"a": "small"}, None, {"a": "after"}]
    assert got[1].error == "record is larger than 1,000 bytes"
    arr = tmp_path / "big.json"
    arr.write_text(f'[{{"a": "small"}}, {{"a": "{big}"}}, {{"a": "after"}}]')
    with RecordReader(str(arr), max_record_bytes=1000) as r:
        got = list(r)
    assert [g.data for g in got] == [{"a": "small"}, None, {"a": "after"}]
    csvp = tmp_path / "big.csv"
    csvp.write_text(f"a\nsmall\n{big}\nafter\n")
    with RecordReader(str(csvp), max_record_bytes=1000) as r:
        got = list(r)
    assert [g.data for g in got] == [{"a": "small"}, None, {"a": "after"}]
    assert got[1].line == 3


def test_json_array_elements_split_across_read_chunks(tmp_path: Path) -> None:
    """Elements larger than the 64 KiB read size, strings with escaped quotes, brackets
    and commas inside strings, and newlines between elements keep their line numbers."""
    items = [{"i": i, "s": ('\\"],{' * (i * 7000)) + "é"} for i in range(12)]
    text = "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False) for x in items) + "\n]\n"
    p = tmp_path / "chunks.json"
    p.write_text(text, encoding="utf-8")
    with RecordReader(str(p)) as r:
        got = list(r)
    assert [g.data for g in got] == items
    assert [g.line for g in got] == list(range(2, 14))


def _write_jsonl(path: Path, n: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "review": f"review number {i} " * 3}) + "\n")


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_reading_streams_in_constant_memory(tmp_path: Path, fmt: str) -> None:
    """Peak Python memory while reading 5k records stays near that of reading 500."""

    def peak(n: int) -> int:
        p = tmp_path / f"in{n}.{fmt}"
        if fmt == "jsonl":
            _write_jsonl(p, n)
        elif fmt == "json":
            with open(p, "w") as f:
                f.write(
                    "["
                    + ",".join(json.dumps({"id": i, "review": f"r{i} " * 9}) for i in range(n))
                    + "]"
                )
        else:
            with open(p, "w") as f:
                f.write("id,review\n" + "".join(f"{i},review {i} text\n" for i in range(n)))
        tracemalloc.start()
        count = 0
        with RecordReader(str(p)) as r:
            for _ in r:
                count += 1
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        return top

    small, large = peak(500), peak(5_000)
    assert large < small * 2 + 200_000, (small, large)


def test_variables_come_from_fields_with_map_and_types() -> None:
    iface = {
        "review": Variable("review", "string"),
        "stars": Variable("stars", "integer", required=False, default=0),
        "tags": Variable("tags", "array", required=False, default=[]),
    }
    row = {"text": "Nice", "stars": "4", "tags": '["a"]', "id": "7"}
    got = select_vars(row, iface, {"review": "text"}, from_text=True)
    assert got == {"review": "Nice", "stars": 4, "tags": ["a"]}
    # an empty cell of an optional variable means "use the default"
    assert select_vars({"review": "x", "stars": ""}, iface, {}, from_text=True) == {"review": "x"}
    with pytest.raises(ValueError, match=r"column 'stars': 'four' is not a whole number"):
        select_vars({"review": "x", "stars": "four"}, iface, {}, from_text=True)
    with pytest.raises(ValueError, match=r"column 'n' \(stars\): '1.5' is not a whole number"):
        select_vars({"review": "x", "n": "1.5"}, iface, {"stars": "n"}, from_text=True)
    # JSON keeps its own types, and a dotted --map reaches into nested objects
    nested = {"user": {"text": "Deep"}, "stars": 5}
    assert select_vars(nested, iface, {"review": "user.text"}, from_text=False) == {
        "review": "Deep",
        "stars": 5,
    }


def test_map_option_is_checked_before_any_record_runs() -> None:
    assert parse_map(["review=text", " stars = n "]) == {"review": "text", "stars": "n"}
    with pytest.raises(UsageError, match="expected VARIABLE=COLUMN"):
        parse_map(["review"])
    with pytest.raises(UsageError, match="given twice"):
        parse_map(["a=b", "a=c"])
    iface = {"review": Variable("review")}
    with pytest.raises(UsageError, match=r"p has no variable\(s\) revew \(variables: review\)"):
        check_mapping(iface, {"revew": "text"}, None, "p", "in.csv")
    with pytest.raises(InputError, match=r"no column\(s\) 'txt' in the CSV header"):
        check_mapping(iface, {"review": "txt"}, ("id", "text"), "p", "in.csv")


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_json_array_scanner_at_every_chunk_boundary(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiny read sizes put every byte (quotes, escapes, brackets, BOM, newlines) at a chunk
    edge; the records must still equal what json.loads makes of the whole file."""
    import random

    import loomgit.inputs.lines as lines

    monkeypatch.setattr(lines, "CHUNK", chunk)
    rng = random.Random(chunk)
    alphabet = ['"', "\\", "[", "]", "{", "}", ",", "\n", "é", "a", " ", "\t", "☃"]
    items = [
        {
            "k": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))),
            "n": [i, {"x": [None, True]}],
            "e": {},
        }
        for i in range(25)
    ]
    body = ",\n ".join(json.dumps(x, ensure_ascii=bool(i % 2)) for i, x in enumerate(items))
    p = tmp_path / "a.json"
    p.write_bytes(b"\xef\xbb\xbf \n[" + body.encode("utf-8") + b"\n]\n")
    with RecordReader(str(p)) as r:
        got = [x.data for x in r]
    assert got == json.loads(p.read_bytes().decode("utf-8-sig"))
