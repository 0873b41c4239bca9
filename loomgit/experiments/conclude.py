"""``loomgit experiment conclude``: the verdict, and the winner promoted through stages.

The promotion is an ordinary ``loomgit promote`` (:func:`loomgit.stages.promote`): one
commit on the stage branch whose message names the experiment and its figures, so the
stage's log explains why that version is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loomgit.experiments.analysis import Status, fmt_ci, fmt_diff, fmt_value, p_text
from loomgit.experiments.api import Experiment
from loomgit.experiments.spec import ExperimentError, load_spec
from loomgit.stages import promote as stage_promote

if TYPE_CHECKING:
    from loomgit.workspace import Workspace


@dataclass(frozen=True)
class Conclusion:
    status: Status
    ref: str | None = None  # the winner's reference
    version: str | None = None  # the version that served the winner's outcomes
    promotion: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        st = self.status
        return {
            "experiment": st.spec.name,
            "verdict": st.verdict,
            "winner": st.winner,
            "ref": self.ref,
            "version": self.version,
            "stage": st.spec.promote_to,
            "promotion": self.promotion,
            "message": st.message,
            "status": st.to_dict(),
        }


def promotion_message(st: Status) -> str:
    """The body of the promotion commit: the experiment and its figures."""
    s = st.spec
    lines = [
        f"Experiment {s.name}: {st.message}",
        "",
        f"Metric: {s.metric.label} ({s.metric.direction} is better), "
        f"{s.confidence:.0%} confidence, min {s.min_samples} per variant",
    ]
    for v in st.variants:
        versions = ", ".join(sorted(v.versions)) or "-"
        lines.append(
            f"{v.name} ({v.ref}, {versions}): {fmt_value(s, v.estimate)} {fmt_ci(s, v.ci)}, n={v.n}"
        )
    for c in st.comparisons:
        lines.append(
            f"{c.variant} vs {c.against}: {fmt_diff(s, c.difference)} "
            f"{fmt_ci(s, c.ci, diff=True)}, {p_text(c.p_value)} ({c.test})"
        )
    return "\n".join(lines)


def trailers(st: Status) -> dict[str, str]:
    """Machine-readable figures for the promotion commit (``git log --format=%(trailers)``)."""
    assert st.winner is not None
    out = {
        "Experiment": st.spec.name,
        "Experiment-Winner": st.winner,
        "Experiment-Samples": " ".join(f"{v.name}={v.n}" for v in st.variants),
    }
    comp = next((c for c in st.comparisons if c.variant == st.winner), None) or min(
        st.comparisons, key=lambda c: c.p_value if c.p_value is not None else 1.0
    )
    if comp.p_value is not None:
        out["Experiment-P-Value"] = f"{comp.p_value:.3g}"
    if comp.difference is not None:
        out["Experiment-Difference"] = f"{comp.variant}-{comp.against} {comp.difference:+.6g}"
    return out


def winner_version(st: Status) -> str:
    """The single version that served the winner's outcomes."""
    assert st.winner is not None
    v = st.variant(st.winner)
    known = {k: n for k, n in v.versions.items() if k != "unversioned"}
    if not known:
        raise ExperimentError(
            f"variant {v.name!r} ({v.ref}) has no recorded version: only a "
            "committed version can be promoted (use a ref such as "
            "ID@1.4.0 or ID@staging)"
        )
    if len(v.versions) > 1:
        seen = ", ".join(f"{k}: {n}" for k, n in sorted(v.versions.items()))
        raise ExperimentError(
            f"variant {v.name!r} was served by several versions ({seen}); "
            "promote the one you mean with 'loomgit promote'"
        )
    version = next(iter(known))
    if "-" in version or "+" in version:
        raise ExperimentError(
            f"variant {v.name!r} ran uncommitted version {version}; commit "
            "it and run the experiment on a committed version"
        )
    return version


def conclude(
    ws: Workspace,
    name: str,
    *,
    promote: bool = False,
    force: bool = False,
    store: str | None = None,
) -> Conclusion:
    """The experiment's verdict; with ``promote`` and a winner, the winner's version is
    promoted to the experiment's ``promote_to`` stage."""
    spec = load_spec(ws, name)
    with Experiment(spec, ws, store) as exp:
        st = exp.status()
    if st.verdict != "winner" or st.winner is None:
        return Conclusion(st)
    ref = spec.variant(st.winner).ref
    version = winner_version(st) if promote else None
    if not promote:
        return Conclusion(st, ref, next(iter(st.variant(st.winner).versions), None))
    assert version is not None

    result = stage_promote(
        ws,
        spec.prompt,
        version,
        spec.promote_to,
        message=promotion_message(st),
        force=force,
        extra_trailers=trailers(st),
    )
    return Conclusion(st, ref, version, _as_dict(result))


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    return dict(vars(result))
