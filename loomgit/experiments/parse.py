"""Parsing and validating one experiment file, every problem with its file and line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import loomgit._yaml as _yaml
from loomgit.config import did_you_mean
from loomgit.errors import LoomgitError
from loomgit.experiments.model import (
    KEYS,
    METRIC_ALIASES,
    METRIC_KEYS,
    NAME_RE,
    VARIANT_KEYS,
    VARIANT_RE,
    ExperimentSpec,
    Metric,
    VariantSpec,
)
from loomgit.experiments.store import parse_url
from loomgit.findings import Finding, error

if TYPE_CHECKING:
    from loomgit.config import Config


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_spec(
    text: str, path: str, name: str, config: Config
) -> tuple[ExperimentSpec | None, list[Finding]]:
    """Parse an experiment file; returns it (None when unusable) and every problem."""
    try:
        data = _yaml.load(text, path=path)
    except _yaml.YamlError as e:
        return None, [error(path, e.line, e.message)]
    if data is None:
        return None, [error(path, None, "empty experiment file")]
    if not isinstance(data, dict):
        return None, [
            error(
                path,
                1,
                "an experiment must be a mapping with prompt, variants, metric and min_samples",
            )
        ]
    out: list[Finding] = []

    def at(key: Any, node: Any = data, default: int | None = None) -> int | None:
        return _yaml.line_of(node, key, default)

    def bad(key: str, message: str, node: Any = data, default: int | None = None) -> None:
        out.append(error(path, at(key, node, default), message))

    if not NAME_RE.match(name):
        out.append(
            error(
                path, None, f"experiment name {name!r} must use letters, digits, '.', '_' and '-'"
            )
        )
    for key in data:
        if key not in KEYS:
            hint = did_you_mean(key, KEYS) or f" (known: {', '.join(KEYS)})"
            bad(key, f"unknown key {key!r}{hint}")

    prompt = data.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip() or "@" in prompt):
        bad("prompt", "prompt must be a prompt id such as support/summarize (no @)")
        prompt = None

    variants: list[tuple[str, str, float | None, int | None]] = []
    raw_v = data.get("variants")
    if not isinstance(raw_v, dict) or len(raw_v) < 2:
        bad(
            "variants",
            "variants must map at least two names to refs, e.g. "
            "control: support/summarize@production",
            default=1,
        )
    else:
        vline = at("variants")
        for vname, entry in raw_v.items():
            line = at(vname, raw_v, vline)
            if not isinstance(vname, str) or not VARIANT_RE.match(vname):
                out.append(
                    error(
                        path, line, f"variant name {vname!r} must use letters, digits, '_' and '-'"
                    )
                )
                continue
            weight: Any = None
            if isinstance(entry, dict):
                for key in entry:
                    if key not in VARIANT_KEYS:
                        out.append(
                            error(
                                path,
                                at(key, entry, line),
                                f"variant {vname!r}: unknown key {key!r} (known: ref, weight)",
                            )
                        )
                ref, weight = entry.get("ref"), entry.get("weight")
            else:
                ref = entry
            if not isinstance(ref, str) or not ref.strip():
                out.append(
                    error(
                        path,
                        line,
                        f"variant {vname!r}: ref must be a reference such "
                        "as support/summarize@1.4.0 or @production",
                    )
                )
                continue
            ref = ref.strip()
            if ref.startswith("@"):
                if prompt is None:
                    out.append(
                        error(
                            path,
                            line,
                            f"variant {vname!r}: {ref!r} needs 'prompt:' (or write ID@REF)",
                        )
                    )
                    continue
                ref = prompt + ref
            ident = ref.rpartition("@")[0] if "@" in ref else ref
            if not ident or ref.endswith("@"):
                out.append(error(path, line, f"variant {vname!r}: malformed reference {ref!r}"))
                continue
            if prompt is not None and ident != prompt:
                out.append(
                    error(path, line, f"variant {vname!r}: {ref!r} is not a version of {prompt!r}")
                )
                continue
            if weight is not None and (not _number(weight) or weight <= 0):
                out.append(
                    error(
                        path,
                        at("weight", entry, line),
                        f"variant {vname!r}: weight must be a number above 0",
                    )
                )
                continue
            variants.append((vname, ref, None if weight is None else float(weight), line))
        weighted = [v for v in variants if v[2] is not None]
        if weighted and len(weighted) != len(variants):
            out.append(error(path, vline, "give every variant a weight, or none (an equal split)"))
        if prompt is None and variants:
            idents = {v[1].rpartition("@")[0] if "@" in v[1] else v[1] for v in variants}
            if len(idents) > 1:
                out.append(
                    error(
                        path,
                        vline,
                        "variants name different prompts "
                        f"({', '.join(sorted(idents))}); set 'prompt:'",
                    )
                )
            else:
                prompt = idents.pop()

    metric = Metric("rate", "success")
    raw_m = data.get("metric")
    if raw_m is None:
        bad(
            "metric",
            "metric is required: rate (record success=True/False) or mean (record value=...)",
            default=1,
        )
    elif isinstance(raw_m, str):
        if raw_m not in METRIC_ALIASES:
            bad("metric", f"metric must be 'rate' or 'mean', not {raw_m!r}")
        else:
            kind = METRIC_ALIASES[raw_m]
            metric = Metric(kind, "success" if kind == "rate" else "value")
    elif isinstance(raw_m, dict):
        mline = at("metric")
        for key in raw_m:
            if key not in METRIC_KEYS:
                out.append(
                    error(
                        path,
                        at(key, raw_m, mline),
                        f"metric: unknown key {key!r} (known: type, name, direction)",
                    )
                )
        found = METRIC_ALIASES.get(str(raw_m.get("type")))
        if found is None:
            out.append(
                error(path, at("type", raw_m, mline), "metric: type must be 'rate' or 'mean'")
            )
        kind = found or "rate"
        mname = raw_m.get("name", "success" if kind == "rate" else "value")
        if not isinstance(mname, str) or not mname.strip():
            out.append(error(path, at("name", raw_m, mline), "metric: name must be a string"))
            mname = "value"
        direction = raw_m.get("direction", "higher")
        if direction not in ("higher", "lower"):
            out.append(
                error(
                    path,
                    at("direction", raw_m, mline),
                    "metric: direction must be 'higher' or 'lower' (which way is better)",
                )
            )
            direction = "higher"
        metric = Metric(kind, mname.strip(), direction)
    else:
        bad("metric", "metric must be 'rate', 'mean' or {type, name, direction}")

    min_samples = data.get("min_samples")
    if min_samples is None:
        bad(
            "min_samples",
            "min_samples is required: observations per variant before any verdict (e.g. 1000)",
            default=1,
        )
        min_samples = 0
    elif not isinstance(min_samples, int) or isinstance(min_samples, bool) or min_samples < 2:
        bad("min_samples", "min_samples must be a whole number, 2 or more")
        min_samples = 0

    confidence = data.get("confidence", 0.95)
    if not _number(confidence) or not 0.5 <= confidence < 1:
        bad("confidence", "confidence must be a number from 0.5 up to (not including) 1, e.g. 0.95")
        confidence = 0.95

    promote_to = data.get("promote_to", config.stages[-1])
    if not isinstance(promote_to, str) or promote_to not in config.stages:
        bad(
            "promote_to",
            f"promote_to must be a stage ({', '.join(config.stages)}), not {promote_to!r}",
        )
        promote_to = config.stages[-1]

    store = data.get("store")
    if store is not None:
        if not isinstance(store, str):
            bad("store", "store must be a URL: sqlite:///PATH or postgresql://HOST/DB")
            store = None
        else:
            try:
                parse_url(store)
            except LoomgitError as e:
                bad("store", e.message)
                store = None
    salt = data.get("salt", "")
    if not isinstance(salt, (str, int)) or isinstance(salt, bool):
        bad("salt", "salt must be a string")
        salt = ""
    description = data.get("description", "")
    if not isinstance(description, str):
        bad("description", "description must be a string")
        description = ""

    if any(f.level == "error" for f in out) or prompt is None or len(variants) < 2:
        return None, out
    total = sum(v[2] or 1.0 for v in variants)
    spec = ExperimentSpec(
        name=name,
        path=path,
        prompt=prompt,
        variants=tuple(VariantSpec(n, r, (w or 1.0) / total, ln) for n, r, w, ln in variants),
        metric=metric,
        min_samples=int(min_samples),
        confidence=float(confidence),
        promote_to=promote_to,
        store=store,
        salt=str(salt),
        description=description,
        store_line=at("store") if store else None,
    )
    return spec, out
