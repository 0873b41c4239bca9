"""A simulated noisy model of known pass rates, served as an OpenAI-compatible API on
127.0.0.1 (tests/provider_server.py), and the same model in-process for simulations.

The prompt names its own quality: a system line ``pass rate: 90%`` makes the model
answer ``yes`` (the suite's assertion passes) with probability 0.90 and ``no`` otherwise.
Answers are drawn from a seeded generator keyed by (seed, request body, how many times
that body was asked before), so each case's set of answers is the same from run to run
whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Sequence

from provider_server import FakeAPI, Reply, Req

from loomgit.evals.cases import CaseResult, Sample
from loomgit.evals.gates import Gate
from loomgit.evals.results import EvalReport, SuiteResult

RATE = re.compile(r"pass rate: (\d+(?:\.\d+)?)%")


def draw(seed: object, key: str, k: int, rate: float) -> bool:
    digest = hashlib.sha256(f"{seed}|{key}|{k}".encode()).digest()
    return random.Random(digest).random() < rate


class NoisyModel:
    """The HTTP side: ``with NoisyModel(seed=1) as m: m.url``."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.api = FakeAPI()
        self.api.default = self.answer
        self.asked: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.api.base + "/v1"

    def answer(self, req: Req) -> Reply:
        body = req.json
        text = json.dumps(body.get("messages"), sort_keys=True)
        m = RATE.search(text)
        rate = float(m.group(1)) / 100 if m else 0.5
        with self.lock:
            k = self.asked[text]
            self.asked[text] += 1
        content = "yes" if draw(self.seed, text, k, rate) else "no"
        return Reply(
            200,
            {
                "id": f"chatcmpl-{k}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "noisy"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
            },
        )

    def __enter__(self) -> NoisyModel:
        self.api.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.__exit__(*exc)


def simulated_report(
    seed: object,
    rates: Sequence[float],
    repeat: int,
    *,
    gate: Gate | None = None,
    prompt: str = "p",
) -> EvalReport:
    """An evaluated report of one suite whose case i passes with ``rates[i]`` on each of
    ``repeat`` samples, drawn from a generator seeded with ``seed``."""
    suite = SuiteResult(prompt, f"prompts/{prompt}.tests.yaml", gate or Gate())
    rng = random.Random(f"{seed}|{prompt}")
    for i, rate in enumerate(rates):
        samples = []
        for k in range(repeat):
            ok = rng.random() < rate
            samples.append(Sample(k, "yes" if ok else "no", ok, 1.0 if ok else 0.0))
        suite.cases.append(CaseResult(prompt, f"c{i}", "noisy", samples, suite=suite.path))
    return EvalReport([suite]).finalize()
