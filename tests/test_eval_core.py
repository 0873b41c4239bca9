"""Assertions, gates and distribution checks: the rules a suite is judged by."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from loomgit.evals import assertions as A
from loomgit.evals.distribution import DistributionError, parse_check, percentile, run_checks
from loomgit.evals.gates import Gate, GateError, Unit, decide, parse_gate
from loomgit.evals.services import parse_score, python_allowed


class Svc:
    allow_python = True
    root = "."

    def __init__(self, judge_score: float = 0.9, embedding: str | None = None) -> None:
        self.judge_score = judge_score
        self.emb = embedding
        self.judged: list[str] = []

    def embedding_model(self) -> str | None:
        return self.emb

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if "fire" in t else [0.0, 1.0] for t in texts]

    async def judge(
        self, criteria: str, obs: A.Observation, model: str | None, prompt: str | None
    ) -> tuple[float, str]:
        self.judged.append(criteria)
        return self.judge_score, "because"


def check(spec: dict[str, Any], text: str, svc: Any = None, **obs: Any) -> A.AssertionResult:
    assert A.spec_problem(spec) is None, A.spec_problem(spec)
    a = A.compile_assertion(spec)
    return asyncio.run(A.evaluate(a, A.Observation(text, **obs), svc or Svc()))


@pytest.mark.parametrize(
    "spec,text,ok",
    [
        ({"equals": "Paris"}, "  Paris\n", True),
        ({"equals": "Paris"}, "paris", False),
        ({"equals": {"a": 1}}, '{"a": 1}', True),
        ({"equals": {"a": 1}}, '{"a": 2}', False),
        ({"contains": "fire"}, "on fire", True),
        ({"contains": "Fire"}, "on fire", False),
        ({"icontains": "FIRE"}, "on fire", True),
        ({"not_contains": "As an AI"}, "As an AI model", False),
        ({"starts_with": "Sure"}, "\n Sure thing", True),
        ({"ends_with": "."}, "Done.\n", True),
        ({"contains_any": ["x", "fire"]}, "fire", True),
        ({"icontains_any": ["FIRE"]}, "fire", True),
        ({"contains_all": ["a", "b"]}, "b and a", True),
        ({"regex": r"(?i)urgent"}, "URGENT: fire", True),
        ({"regex": r"^\d+$"}, "12a", False),
        ({"is_json": True}, '{"a": [1, 2]}', True),
        ({"is_json": True}, '```json\n{"a": 1}\n```', True),
        ({"is_json": True}, "{a: 1}", False),
        ({"is_json": False}, "plain", True),
        ({"json_schema": {"type": "object", "required": ["summary"]}}, '{"summary": "x"}', True),
        ({"json_schema": {"type": "object", "required": ["summary"]}}, '{"other": 1}', False),
        ({"one_of": ["yes", "no"]}, " no\n", True),
        ({"one_of": ["yes", "no"]}, "maybe", False),
        ({"min_length": 3}, "ab", False),
        ({"max_length": 3}, "abc", True),
    ],
)
def test_text_assertions(spec: dict[str, Any], text: str, ok: bool) -> None:
    r = check(spec, text)
    assert r.passed is ok
    assert r.score == (1.0 if ok else 0.0)
    assert r.message


def test_contains_all_gives_partial_credit_and_names_what_is_missing() -> None:
    r = check({"contains_all": ["fire", "floor", "urgent"]}, "fire on floor 3")
    assert not r.passed and r.score == pytest.approx(2 / 3)
    assert r.message == "missing 'urgent'"


def test_json_schema_failure_names_the_path() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    r = check({"json_schema": schema}, '{"n": "three"}')
    assert not r.passed and r.message == "schema: n: 'three' is not of type 'integer'"


def test_negation_both_spellings_and_weight() -> None:
    r1 = check({"not": {"contains": "fire"}, "weight": 2}, "on fire")
    r2 = check({"contains": "fire", "not": True}, "on fire")
    for r in (r1, r2):
        assert not r.passed and r.score == 0.0 and r.kind == "not contains"
    assert r1.weight == 2.0
    assert check({"not": {"contains": "water"}}, "on fire").passed


def test_latency_and_cost_limits() -> None:
    assert check({"max_latency_ms": 100}, "x", latency_ms=99.0).passed
    assert not check({"max_latency_ms": 100}, "x", latency_ms=101.0).passed
    assert not check({"max_cost_usd": 0.001}, "x", cost_usd=0.002).passed
    unknown = check({"max_cost_usd": 0.001}, "x", cost_usd=None)
    assert unknown.passed and "cost unknown" in unknown.message


def test_similar_lexical_fallback_and_embeddings() -> None:
    same = check(
        {"similar": {"to": "the printer is on fire", "threshold": 0.9}}, "The printer is on FIRE!"
    )
    assert same.passed and same.score == pytest.approx(1.0) and same.message.startswith("lexical")
    far = check({"similar": "a cat sleeps"}, "the printer is on fire")
    assert not far.passed and far.score == 0.0
    emb = check({"similar": {"to": "fire!", "threshold": 0.5}}, "fire here", Svc(embedding="x/emb"))
    assert emb.passed and emb.message.startswith("cosine")
    emb_bad = check({"similar": {"to": "fire!", "model": "x/emb"}}, "calm water")
    assert not emb_bad.passed and emb_bad.score == 0.0


def test_similar_uses_the_case_expected_text() -> None:
    r = check({"similar": {"threshold": 0.5}}, "printer on fire", expected="the printer is on fire")
    assert r.passed
    with pytest.raises(A.AssertionError_, match="needs 'to:'"):
        check({"similar": {"threshold": 0.5}}, "printer on fire")


def test_judge_threshold_and_negation() -> None:
    svc = Svc(judge_score=0.6)
    r = check({"judge": {"criteria": "names the floor", "threshold": 0.7}}, "x", svc)
    assert not r.passed and r.score == 0.6 and "judge 0.60 < 0.7: because" == r.message
    assert svc.judged == ["names the floor"]
    assert check({"judge": "names the floor"}, "x", Svc(0.7)).passed  # default threshold 0.7
    neg = check({"not": {"judge": "is rude"}}, "x", Svc(0.2))
    assert neg.passed and neg.score == pytest.approx(0.8)


def test_python_assertion(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mychecks_t1.py").write_text(
        "def polite(output, ctx):\n    return 'please' in output\n"
        "def graded(output, ctx):\n    return {'pass': True, 'score': 0.75, 'reason': ctx['case']}\n"
        "def boom(output, ctx):\n    raise ValueError('nope')\n"
    )
    svc = Svc()
    svc.root = str(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check({"python": "mychecks_t1:polite"}, "yes please", svc).passed
    g = check({"python": "mychecks_t1:graded"}, "x", svc, case="c1")
    assert g.passed and g.score == 0.75 and g.message == "c1"
    b = check({"python": "mychecks_t1:boom"}, "x", svc)
    assert not b.passed and "raised ValueError: nope" in b.message
    svc.allow_python = False
    with pytest.raises(
        A.AssertionError_,
        match="run local code; allow them with --allow-python or LOOMGIT_ALLOW_PYTHON=1",
    ):
        check({"python": "mychecks_t1:polite"}, "please", svc)


def test_python_policy() -> None:
    assert not python_allowed({})  # off by default, outside CI too
    assert not python_allowed({"CI": "true"})
    assert not python_allowed({"GITHUB_ACTIONS": "true"})
    assert python_allowed({"CI": "true", "LOOMGIT_ALLOW_PYTHON": "1"})
    assert not python_allowed({"LOOMGIT_ALLOW_PYTHON": "0"})


@pytest.mark.parametrize(
    "spec,problem",
    [
        ({"contans": "x"}, "unknown assertion 'contans' (did you mean 'contains'?)"),
        (
            {"regex": "(unclosed"},
            "regex: invalid regular expression: missing ), unterminated subpattern at position 0",
        ),
        ({"json_schema": {"type": "nonsense"}}, "json_schema: invalid JSON Schema: "),
        ({"min_length": -1}, "min_length: expects a whole number of characters (0 or more)"),
        ({"contains": "x", "weight": -1}, "weight must be a number (0 or more)"),
        (
            {"contains": "x", "icontains": "y"},
            "an assertion names exactly one check, got contains, icontains",
        ),
        ({"judge": {"threshold": 0.5}}, "judge: needs 'criteria:'"),
        (
            {"similar": {"to": "x", "threshold": 2}},
            "similar: threshold must be a number from 0 to 1",
        ),
        ({"python": "not a ref"}, "python: expects 'module:function'"),
        ({"not": {"nope": 1}}, "unknown assertion 'nope'"),
        ("contains", "each assertion must be a mapping like {contains: text}"),
    ],
)
def test_spec_problems(spec: Any, problem: str) -> None:
    got = A.spec_problem(spec)
    assert got is not None and got.startswith(problem), got


def test_combine_weighted_mean_and_informational_weight_zero() -> None:
    R = A.AssertionResult
    passed, score = A.combine([R("a", True, 1.0, 3.0), R("b", False, 0.0, 1.0)])
    assert not passed and score == pytest.approx(0.75)
    passed, score = A.combine([R("a", True, 1.0, 1.0), R("info", False, 0.0, 0.0)])
    assert passed and score == 1.0
    assert A.combine([]) == (True, 1.0)


# --- gates --------------------------------------------------------------------------------


def U(*flags: bool | None) -> list[Unit]:
    return [Unit(f, None if f is None else (1.0 if f else 0.0)) for f in flags]


@pytest.mark.parametrize(
    "rule,units,expected",
    [
        ("all_pass", U(True, True), "passed"),
        ("all_pass", U(True, False), "failed"),
        ("majority_pass", U(True, False), "failed"),  # exactly half is not a majority
        ("majority_pass", U(True, True, False), "passed"),
        ("any_pass", U(False, False, True), "passed"),
        ("any_pass", U(False, False), "failed"),
        ("all_pass", U(True, None), "error"),  # undecided
        ("all_pass", U(False, None), "failed"),  # fails whatever the error hid
        ("any_pass", U(True, None), "passed"),  # passes whatever the error hid
        ("majority_pass", U(True, True, None), "passed"),  # 2 of 3 even if the error failed
        ("majority_pass", U(True, None), "error"),
        ("all_pass", [], "passed"),
    ],
)
def test_gate_rules(rule: str, units: list[Unit], expected: str) -> None:
    assert decide(parse_gate(rule), units) == expected


def test_weighted_gate_formula() -> None:
    g = parse_gate({"weighted": {"important": 3}, "threshold": 0.75})
    assert g == Gate("weighted", 0.75, {"important": 3.0})
    # (3*1.0 + 1*0.0) / 4 = 0.75 >= 0.75
    assert decide(g, [Unit(True, 1.0, 3.0), Unit(False, 0.0, 1.0)]) == "passed"
    assert decide(g, [Unit(True, 0.9, 1.0), Unit(False, 0.5, 1.0)]) == "failed"  # 0.7
    assert parse_gate("weighted", 0.5).threshold == 0.5
    assert parse_gate({"weighted": True}).threshold == 0.8


@pytest.mark.parametrize(
    "raw,msg",
    [
        ("best_of", "unknown gate 'best_of'"),
        ({"weighted": {"a": -1}}, "weight of case 'a' must be a number"),
        ({"weighted": True, "threshold": 1.5}, "threshold must be a number from 0 to 1"),
        ({"weighted": True, "min": 1}, "unknown gate key(s) min"),
        (["all_pass"], "gate must be all_pass"),
    ],
)
def test_gate_errors(raw: Any, msg: str) -> None:
    with pytest.raises(GateError) as e:
        parse_gate(raw)
    assert str(e.value).startswith(msg)


# --- distribution --------------------------------------------------------------------------

ROWS = [
    {
        "score": s,
        "passed": p,
        "latency_ms": lat,
        "cost_usd": None,
        "tokens": 10.0,
        "input_tokens": 4.0,
        "output_tokens": 6.0,
    }
    for s, p, lat in [(1.0, 1.0, 100.0), (0.5, 0.0, 200.0), (1.0, 1.0, 300.0), (0.9, 1.0, 400.0)]
]


def test_distribution_values() -> None:
    res = {
        r.check: (r.value, r.passed)
        for r in run_checks(
            [
                "mean(score) >= 0.8",
                "pass_rate >= 95%",
                "p95(latency_ms) <= 400",
                "std(score) <= 0.2",
                "max(latency_ms) < 400",
                "count(score) == 4",
                "error_rate <= 0.2",
                "sum(tokens) == 40",
                "median(latency_ms) == 250",
            ],
            ROWS,
            errors=1,
        )
    }
    assert res["mean(score) >= 0.8"] == (pytest.approx(0.85), True)
    assert res["pass_rate >= 95%"] == (0.75, False)
    assert res["p95(latency_ms) <= 400"] == (pytest.approx(385.0), True)
    assert res["std(score) <= 0.2"][0] == pytest.approx(0.2061552812808830)
    assert res["std(score) <= 0.2"][1] is False
    assert res["max(latency_ms) < 400"] == (400.0, False)
    assert res["count(score) == 4"] == (4.0, True)
    assert res["error_rate <= 0.2"] == (0.2, True)
    assert res["sum(tokens) == 40"] == (40.0, True)
    assert res["median(latency_ms) == 250"] == (250.0, True)


def test_percentile_matches_numpy() -> None:
    np = pytest.importorskip("numpy")
    vals = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    for q in (0, 5, 50, 90, 95, 99, 100):
        assert percentile(vals, q) == pytest.approx(float(np.percentile(vals, q)))


@pytest.mark.parametrize(
    "text,msg",
    [
        ("mean(score) >= ", "cannot read"),
        ("__import__('os').system('x') >= 1", "cannot read"),
        ("avg(score) >= 1", "unknown function 'avg'"),
        ("mean(sc0re) >= 1", "unknown field 'sc0re'"),
        ("passrate >= 1", "unknown metric 'passrate'"),
        ("p101(latency_ms) <= 1", "unknown function 'p101'"),
        ("mean(score) => 0.8", "cannot read"),
    ],
)
def test_distribution_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(DistributionError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse_check(text)


def test_judge_score_parsing() -> None:
    assert parse_score('{"score": 0.8, "reason": "ok"}') == (0.8, "ok")
    assert parse_score('Here: ```json\n{"score": 1}\n```') == (1.0, "")
    assert parse_score('I think {"score": 7, "reason": "fine"} overall') == (0.7, "fine")
    assert parse_score("Score: 85") == (0.85, "")
    with pytest.raises(A.AssertionError_, match="holds no score"):
        parse_score("looks good to me")
    with pytest.raises(A.AssertionError_):
        parse_score(json.dumps({"score": -1}))
