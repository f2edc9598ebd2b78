"""The verdict of one evaluation: the normal-mixture confidence sequence for the
effect and the decision rules (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from learning_loop.domain.experiments.rules import ExperimentRules

Winner = Literal["baseline", "variant", "inconclusive"]
Status = Literal["running", "completed"]
DecidedReason = Literal["insufficient_data", "not_significant", "significant", "max_duration"]

#: Prior scale τ of the effect in the normal mixture (reward units).
MIXTURE_SD = 0.1
#: Variance of a Uniform(0, 1) percentile reward: the prior variance each arm is shrunk toward.
PRIOR_VARIANCE = 1.0 / 12.0
METHOD = f"normal_mixture_cs(tau={MIXTURE_SD:g})"


@dataclass(frozen=True)
class Verdict:
    """An experiment's verdict as of one evaluation (see the package docstring).

    Means and ``effect`` (variant − baseline) are None while an arm is empty;
    ``ci_low``/``ci_high`` (the always-valid interval for the effect) and
    ``mde`` are None while an arm has fewer than 2 videos. ``decided_reason``
    is ``insufficient_data`` or ``not_significant`` while running, and
    ``significant`` or ``max_duration`` once completed.
    """

    n_baseline: int
    n_variant: int
    baseline_mean: float | None
    variant_mean: float | None
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    statistic: float
    method: str
    mde: float | None
    winner: Winner
    status: Status
    decided_reason: DecidedReason

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON-serialisable)."""
        return asdict(self)


@dataclass(frozen=True)
class _Interval:
    """Always-valid interval for the effect and the statistic behind it."""

    low: float
    high: float
    half_width: float
    log_evalue: float


def _as_rewards(values: Sequence[float], arm: str) -> np.ndarray:
    """Rewards as a float array; raises ValueError unless every value is in [0, 1]."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):  # NaN fails too
        raise ValueError(f"{arm} rewards must be percentile rewards in [0, 1]")
    return arr


def _shrunk_variance(rewards: np.ndarray) -> float:
    """Sample variance shrunk toward 1/12 with the weight of one video: ``(SS + 1/12) / n``."""
    n = rewards.size
    return (float(rewards.var()) * n + PRIOR_VARIANCE) / n


def mixture_half_width(se: float, alpha: float, tau: float = MIXTURE_SD) -> float:
    """Half-width of the normal-mixture confidence sequence at standard error ``se``."""
    ratio = (tau / se) ** 2
    return se * math.sqrt((1.0 + 1.0 / ratio) * (math.log1p(ratio) + 2.0 * math.log(1.0 / alpha)))


def mixture_log_evalue(effect: float, se: float, tau: float = MIXTURE_SD) -> float:
    """Log mixture likelihood ratio of effect ~ N(0, τ²) against effect = 0.

    ``ln N(effect; 0, se² + τ²) − ln N(effect; 0, se²)`` in closed form (this runs
    once per verdict, and thousands of times in the simulations).
    """
    ratio = (tau / se) ** 2
    return 0.5 * (effect / se) ** 2 * ratio / (1.0 + ratio) - 0.5 * math.log1p(ratio)


def _interval(baseline: np.ndarray, variant: np.ndarray, alpha: float) -> _Interval:
    """Confidence-sequence interval for ``mean(variant) - mean(baseline)``; arms need n >= 2."""
    effect = float(variant.mean() - baseline.mean())
    se = math.sqrt(
        _shrunk_variance(baseline) / baseline.size + _shrunk_variance(variant) / variant.size
    )
    half = mixture_half_width(se, alpha)
    return _Interval(effect - half, effect + half, half, mixture_log_evalue(effect, se))


def _decide(
    ci: _Interval | None, enough: bool, expired: bool
) -> tuple[Winner, Status, DecidedReason]:
    """Winner, status and reason from the interval and the rules' gates."""
    if enough and ci is not None:
        if ci.low > 0.0:
            return "variant", "completed", "significant"
        if ci.high < 0.0:
            return "baseline", "completed", "significant"
    if expired:
        return "inconclusive", "completed", "max_duration"
    return "inconclusive", "running", "not_significant" if enough else "insufficient_data"


def _mean(rewards: np.ndarray) -> float | None:
    return float(rewards.mean()) if rewards.size else None


def evaluate_verdict(
    baseline: Sequence[float],
    variant: Sequence[float],
    rules: ExperimentRules,
    started_at: datetime,
    as_of: datetime,
    previous: Verdict | None = None,
) -> Verdict:
    """Verdict for an experiment as of ``as_of`` (SPEC §6).

    ``baseline`` / ``variant`` are the arms' percentile rewards in [0, 1].
    A ``previous`` verdict that is completed is returned unchanged.
    """
    if previous is not None and previous.status == "completed":
        return previous
    if as_of < started_at:
        raise ValueError(
            f"as_of {as_of.isoformat()} is before the experiment started {started_at.isoformat()}"
        )
    b = _as_rewards(baseline, "baseline")
    v = _as_rewards(variant, "variant")
    ci = _interval(b, v, rules.alpha) if b.size >= 2 and v.size >= 2 else None
    enough = b.size >= rules.min_n_per_arm and v.size >= rules.min_n_per_arm
    expired = as_of - started_at >= timedelta(days=rules.max_duration_days)
    winner, status, reason = _decide(ci, enough, expired)
    b_mean, v_mean = _mean(b), _mean(v)
    return Verdict(
        n_baseline=int(b.size),
        n_variant=int(v.size),
        baseline_mean=b_mean,
        variant_mean=v_mean,
        effect=None if b_mean is None or v_mean is None else v_mean - b_mean,
        ci_low=None if ci is None else ci.low,
        ci_high=None if ci is None else ci.high,
        statistic=0.0 if ci is None else ci.log_evalue,
        method=METHOD,
        mde=None if ci is None else ci.half_width,
        winner=winner,
        status=status,
        decided_reason=reason,
    )


__all__ = [
    "METHOD",
    "MIXTURE_SD",
    "PRIOR_VARIANCE",
    "DecidedReason",
    "Status",
    "Verdict",
    "Winner",
    "evaluate_verdict",
    "mixture_half_width",
    "mixture_log_evalue",
]
