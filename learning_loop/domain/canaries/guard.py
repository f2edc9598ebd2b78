"""The canary guard: the one decision the nightly op job, ``canaries check`` and the recommendation use (SPEC §11).

Order of the checks
-------------------
1. **Refuse** (action ``refused``, no rollback, the caller alerts):
   ``sample_ratio_mismatch`` when the observed canary share contradicts
   ``canary_percent`` (chi-square p < ``srm_alpha``; a broken router makes
   every comparison meaningless, and a canary that gets *no* traffic shows up
   here rather than as missing data), then ``insufficient_data`` when either
   arm has fewer than ``min_decisions_per_arm`` decisions.
2. **Roll back** on ``quality_regression`` when ``quality_delta <
   -max_quality_drop`` *and* the quality confidence sequence lies entirely
   below 0; on ``latency_regression`` when ``latency_delta >
   max_latency_rise`` *and* the latency sequence lies entirely above 0.
   Quality is reported first when both regressed (both are in the details).
3. Otherwise ``none``: ``not_significant`` when a point estimate is beyond
   its tolerance but the sequence still includes 0, else ``within_limits``.

Why this reading of "dropped more than 5 % and significant": the regression
must be beyond the tolerance (the point estimate) *and* real (the always-valid
interval excludes 0). Because a rollback needs an interval that excludes 0, a
canary with no true difference is rolled back with probability at most
``1 - level`` over all its checks, however many (the intervals are confidence
sequences with α split between the two metrics). The stricter reading — the
whole interval beyond the tolerance — would also bound rollbacks of canaries
whose true regression is just inside the tolerance, but it needs far more
data: a 10 % quality drop would have to be shown to be worse than 5 %, which
at 20 canary decisions a day takes weeks. The price of this reading: a
canary whose true drop is close to (but within) the tolerance may be rolled
back once the estimate wanders past it — the guard errs toward rollback,
which is the safe side (the stable bundle keeps serving).

Measured (``bench/bench_guard.py``: 14 nightly checks, canary at 10 %,
quality Beta(mean 0.8, sd 0.15), latency log-normal(mean 800 ms, log-sd 0.5),
defaults): no true difference → 0 rollbacks in 4000 canaries at 200 and at
1000 decisions/day (3 in 4000 even with both tolerances set to ~0, i.e. the
sequences alone); quality −10 % and −20 % → all rolled back, median night 3
(200/day) or 1 (1000/day); latency +25 % → 99.7 % (night 6) / 100 % (night 2);
latency +10 % → 11 % / 73 %; quality −5 % (at the tolerance) → 61 % / 80 %;
within tolerance, quality −3 % → 9 % / 7 % and latency +5 % → 0.3 % / 3 %.

Recommendation (``recommend``): ``rollback`` when the guard rolls back;
``promote`` when the guard takes no action and both sequences rule out a
regression beyond the tolerance (quality lower bound > ``-max_quality_drop``
and latency upper bound < ``max_latency_rise``); else ``monitor`` (refusals
included).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, Union

from learning_loop.domain.canaries.arms import ArmComparison, CanaryArms, compare_arms
from learning_loop.domain.canaries.config import GuardConfig
from learning_loop.domain.canaries.deployment import as_utc
from learning_loop.domain.canaries.errors import CanaryError

GuardAction = Literal["rollback", "none", "refused"]
GuardReason = Literal[
    "quality_regression",
    "latency_regression",
    "sample_ratio_mismatch",
    "insufficient_data",
    "not_significant",
    "within_limits",
]
Recommendation = Literal["rollback", "promote", "monitor"]
RECOMMENDATIONS: tuple[str, ...] = ("rollback", "promote", "monitor")


class HasArms(Protocol):
    """Anything carrying a canary's arms (e.g. ``CanaryPerformance``)."""

    @property
    def arms(self) -> CanaryArms: ...


@dataclass(frozen=True)
class GuardDecision:
    """What the guard does with one canary at one look, why, and the evidence.

    ``details`` is JSON-ready (the audit log's details for ``guard_check`` and
    an automatic ``rolled_back``): deltas, intervals, p-values, n per arm,
    observed/expected share, SRM p-value, the regressions found and the rules.
    """

    action: GuardAction
    reason: GuardReason
    details: dict[str, Any]
    comparison: ArmComparison = field(repr=False)

    @property
    def regressions(self) -> list[str]:
        return list(self.details["regressions"])

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "details": self.details}


def _regressions(comparison: ArmComparison, config: GuardConfig) -> tuple[list[str], list[str]]:
    """(significant regressions beyond tolerance, regressions beyond tolerance by point estimate)."""
    significant: list[str] = []
    beyond: list[str] = []
    q, lat = comparison.quality, comparison.latency
    if q.value is not None and q.value < -config.max_quality_drop:
        beyond.append("quality_regression")
        if q.high is not None and q.high < 0.0:
            significant.append("quality_regression")
    if lat.value is not None and lat.value > config.max_latency_rise:
        beyond.append("latency_regression")
        if lat.low is not None and lat.low > 0.0:
            significant.append("latency_regression")
    return significant, beyond


def _details(comparison: ArmComparison, config: GuardConfig, regressions: list[str]) -> dict[str, Any]:
    data = comparison.to_dict()
    data["regressions"] = regressions
    data["max_quality_drop"] = config.max_quality_drop
    data["max_latency_rise"] = config.max_latency_rise
    data["level"] = config.level
    data["min_decisions_per_arm"] = config.min_decisions_per_arm
    data["srm_alpha"] = config.srm_alpha
    return data


def guard_decision(arms: Union[CanaryArms, HasArms], config: GuardConfig | None = None) -> GuardDecision:
    """Roll back, take no action or refuse to judge one canary (rules in the module docstring).

    ``arms`` is a :class:`CanaryArms` or anything with an ``arms`` attribute
    (a ``CanaryPerformance``); the comparison is recomputed under ``config``.
    """
    config = config or GuardConfig()
    evidence = arms if isinstance(arms, CanaryArms) else getattr(arms, "arms", None)
    if not isinstance(evidence, CanaryArms):
        raise CanaryError(f"guard_decision needs CanaryArms or a canary performance, got {type(arms).__name__}")
    comparison = compare_arms(evidence, config)
    if comparison.srm_alarm:
        return GuardDecision("refused", "sample_ratio_mismatch", _details(comparison, config, []), comparison)
    if min(comparison.n_canary, comparison.n_stable) < config.min_decisions_per_arm:
        return GuardDecision("refused", "insufficient_data", _details(comparison, config, []), comparison)
    significant, beyond = _regressions(comparison, config)
    details = _details(comparison, config, significant)
    if significant:
        return GuardDecision("rollback", significant[0], details, comparison)  # type: ignore[arg-type]
    return GuardDecision("none", "not_significant" if beyond else "within_limits", details, comparison)


def recommend(decision: GuardDecision, config: GuardConfig | None = None) -> Recommendation:
    """``rollback`` / ``promote`` / ``monitor`` from a guard decision (rules in the module docstring)."""
    config = config or GuardConfig()
    if decision.action == "rollback":
        return "rollback"
    if decision.action == "refused":
        return "monitor"
    q, lat = decision.comparison.quality, decision.comparison.latency
    if q.low is None or lat.high is None:
        return "monitor"
    if q.low > -config.max_quality_drop and lat.high < config.max_latency_rise:
        return "promote"
    return "monitor"


def auto_promotion_due(
    history: Iterable[tuple[datetime, str]], hold_hours: float, as_of: datetime | None = None
) -> bool:
    """True when the recommendation has been ``promote`` continuously for at least ``hold_hours``.

    ``history`` is (time, recommendation) pairs of one canary at its current
    percent (pass only the looks since the last promotion step), in any
    order. The trailing run of ``promote`` looks must be the latest look and
    have started ``hold_hours`` or more before ``as_of`` (default: the latest
    look). Any other recommendation breaks the run.
    """
    if isinstance(hold_hours, bool) or not isinstance(hold_hours, (int, float)) or not hold_hours >= 0:
        raise CanaryError(f"hold_hours must be a number >= 0, got {hold_hours!r}")
    looks = sorted((as_utc(at, "history time"), rec) for at, rec in history)
    for _, rec in looks:
        if rec not in RECOMMENDATIONS:
            raise CanaryError(f"recommendation must be one of {', '.join(RECOMMENDATIONS)}, got {rec!r}")
    if not looks or looks[-1][1] != "promote":
        return False
    start = looks[-1][0]
    for at, rec in reversed(looks):
        if rec != "promote":
            break
        start = at
    end = looks[-1][0] if as_of is None else as_utc(as_of, "as_of")
    return (end - start).total_seconds() >= hold_hours * 3600.0


__all__ = [
    "GuardAction",
    "GuardDecision",
    "GuardReason",
    "Recommendation",
    "auto_promotion_due",
    "guard_decision",
    "recommend",
]
