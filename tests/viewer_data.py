"""Compare results in the JSON shape ``loomgit eval --compare BASE -o F`` writes (see
docs/evals.md), made up case by case: for the review page's tests and its benchmark.

Every 7th case regresses, every 11th is fixed, every 5th answer is reworded, every 13th
errors at the head; answers carry HTML, a long unbroken token and line breaks.
"""

from __future__ import annotations

from typing import Any

WORDS = (
    "the printer on floor three is jammed again and the queue shows forty pending jobs "
    "please restart the spooler and clear the tray before the audit on Friday"
).split()


def _answer(i: int, reworded: bool) -> str:
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(18 + i % 23)]
    if reworded:
        words[3:5] = ["urgently", "needs"]
        words.append("Thanks!")
    text = " ".join(words)
    if i % 17 == 0:
        text += "\n<b>bold?</b> <script>alert(1)</script>"
    if i % 29 == 0:
        text += " " + "x" * 120  # one long token: it must wrap, not widen the page
    return text


def _result(
    prompt: str, version: str, case: str, model: str, ok: bool, output: str | None, i: int
) -> dict[str, Any]:
    error = output is None
    asserts = [
        {
            "type": "icontains",
            "passed": True,
            "score": 1.0,
            "weight": 1.0,
            "message": "",
            "value": None,
        },
        {
            "type": "max_length",
            "passed": ok,
            "score": 1.0 if ok else 0.0,
            "weight": 1.0,
            "message": "" if ok else f"{len(output or '')} chars > 90",
            "value": None,
        },
    ]
    return {
        "prompt": prompt,
        "version": version,
        "commit": None,
        "suite": f"prompts/{prompt}.tests.yaml",
        "case": case,
        "provider": model,
        "status": "error" if error else "passed" if ok else "failed",
        "passed": None if error else ok,
        "score": None if error else (1.0 if ok else 0.5),
        "pass_rate": None if error else (1.0 if ok else 0.0),
        "repeat": 1,
        "output": output,
        "assertions": [] if error else asserts,
        "latency_ms": None if error else 180.0 + (i * 37) % 900,
        "tokens": {"input": 120, "output": 40, "total": 160},
        "cost_usd": None if error else 0.000021 * (1 + i % 3),
        "cached": False,
        "error": "HTTP 503 from the provider (3 attempts)" if error else None,
        "weight": 1.0,
    }


def compare_result(
    n: int = 40,
    models: tuple[str, ...] = ("openai/gpt-4o-mini",),
    prompt: str = "support/summarize",
) -> dict[str, Any]:
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for i in range(n):
        case = f"ticket-{i:05d}" if i % 19 else f"ticket-{i:05d} with a long case name <i>x</i>"
        for model in models:
            base_ok = i % 11 != 0
            head_ok = (i % 7 != 0) if base_ok else True
            reworded = i % 5 == 0 or not head_ok
            head_out = None if i % 13 == 12 else _answer(i, reworded)
            before.append(_result(prompt, "1.4.0", case, model, base_ok, _answer(i, False), i))
            after.append(_result(prompt, "1.5.0", case, model, head_ok, head_out, i + 1))
            b, a = before[-1]["status"], after[-1]["status"]
            change = (
                "error"
                if "error" in (a, b)
                else "regression"
                if (b, a) == ("passed", "failed")
                else "fix"
                if (b, a) == ("failed", "passed")
                else "same"
            )
            cases.append(
                {
                    "prompt": prompt,
                    "case": case,
                    "provider": model,
                    "change": change,
                    "before": {"status": b, "score": before[-1]["score"]},
                    "after": {"status": a, "score": after[-1]["score"]},
                    "delta": None,
                    "why": "",
                }
            )

    def report(results: list[dict[str, Any]], version: str, commit: str) -> dict[str, Any]:
        return {
            "schema": 1,
            "summary": {},
            "suites": [
                {
                    "prompt": prompt,
                    "version": version,
                    "commit": commit,
                    "path": f"prompts/{prompt}.tests.yaml",
                }
            ],
            "results": results,
            "commit": commit,
        }

    return {
        "base": "main",
        "verdict": "regressed",
        "regressions": sum(c["change"] == "regression" for c in cases),
        "fixes": sum(c["change"] == "fix" for c in cases),
        "prompts": [],
        "cases": cases,
        "unchanged_prompts": [],
        "before": report(before, "1.4.0", "a" * 40),
        "after": report(after, "1.5.0", "b" * 40),
    }
