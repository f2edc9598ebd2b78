"""A canary's two arms and their always-valid comparison (SPEC §11).

Each arm is summarised by sufficient statistics (:class:`ArmStats`: n, mean and
variance of quality and of latency), so the same comparison runs on a
warehouse query, a DataFrame or a simulation.

Relative deltas and their confidence sequences
----------------------------------------------
``quality_delta = mean_q(canary) / mean_q(stable) - 1`` (latency alike). Its
always-valid interval is the project's normal-mixture confidence sequence
(:func:`learning_loop.domain.experiments.mixture_half_width`, the same
boundary the experiment verdicts use) applied to the ratio of means through
the delta method::

    R = m_c / m_s,   se(R) = sqrt(v_c / n_c + R² · v_s / n_s) / m_s
    interval = (R - 1) ± h(se(R), α/2, τ)

Under "no true difference" (R = 1) this is the Welch difference-of-means
statistic divided by the stable mean, whose information process is what the
mixture martingale argument needs (see ``learning_loop.domain.experiments``);
for other R it is the usual first-order (asymptotic) approximation. α is
``1 - level`` split evenly between quality and latency (Bonferroni), so with
no true difference the chance that *either* interval ever excludes 0, over
any number of looks, is at most ``1 - level``. τ (the mixture's prior scale,
in relative units) defaults to twice the metric's tolerance: the boundary is
tightest for effects of about τ, and the effects the guard must find are
those beyond the tolerance. Each arm's variance is shrunk with the weight of
one decision toward a prior variance — 1/12 for quality (a uniform score, as
for experiment rewards), ``mean²`` for latency (coefficient of variation 1) —
which keeps ``se > 0`` on ties and damps overconfidence at small n. Plug-in
variances make the sequence asymptotic; its error at the guard's minimum
sample is measured by ``bench/bench_guard.py``.

Sample-ratio mismatch
---------------------
Chi-square goodness of fit of the observed (canary, stable) counts against
``canary_percent``: statistic ``Σ (o - e)² / e`` with 1 degree of freedom
(identical to ``scipy.stats.chisquare``), counted only over decisions made
since the current percent was set (``srm_n_canary``/``srm_n_stable``).
An alarm needs p < ``srm_alpha`` and both expected counts ≥ 5 (below that the
chi-square approximation is not trusted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from learning_loop.domain.canaries.config import GuardConfig
from learning_loop.domain.canaries.errors import CanaryError, is_integer
from learning_loop.domain.experiments import PRIOR_VARIANCE, mixture_half_width, mixture_log_evalue

#: Prior variance of a per-decision quality score in [0, 1] (a uniform score), weight one decision.
QUALITY_PRIOR_VARIANCE = PRIOR_VARIANCE
#: Smallest expected count per arm for the chi-square sample-ratio test to raise an alarm.
SRM_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class ArmStats:
    """Sufficient statistics of one arm; variances are population variances (ddof 0)."""

    n: int
    quality_mean: float | None = None
    quality_var: float = 0.0
    latency_mean: float | None = None
    latency_var: float = 0.0

    @classmethod
    def from_values(cls, quality: Sequence[float] | np.ndarray, latency: Sequence[float] | np.ndarray) -> ArmStats:
        """Statistics of per-decision quality and latency (same length)."""
        q = np.asarray(quality, dtype=float).reshape(-1)
        lat = np.asarray(latency, dtype=float).reshape(-1)
        if q.size != lat.size:
            raise CanaryError(f"quality and latency must have the same length, got {q.size} and {lat.size}")
        if q.size == 0:
            return cls(0)
        return cls(int(q.size), float(q.mean()), float(q.var()), float(lat.mean()), float(lat.var()))

    @classmethod
    def from_sums(
        cls, n: int, quality_sum: float, quality_sumsq: float, latency_sum: float, latency_sumsq: float
    ) -> ArmStats:
        """Statistics from counts, sums and sums of squares (used by the simulation)."""
        n = int(n)
        if n <= 0:
            return cls(0)
        q_mean = quality_sum / n
        l_mean = latency_sum / n
        q_var = max(quality_sumsq / n - q_mean * q_mean, 0.0)
        l_var = max(latency_sumsq / n - l_mean * l_mean, 0.0)
        return cls(n, float(q_mean), float(q_var), float(l_mean), float(l_var))


@dataclass(frozen=True)
class CanaryArms:
    """The evidence the guard judges: both arms and the share the canary should get.

    ``srm_n_canary``/``srm_n_stable`` are the counts since the current percent
    was set (default: the arms' n).
    """

    canary: ArmStats
    stable: ArmStats
    canary_percent: int
    srm_n_canary: int | None = None
    srm_n_stable: int | None = None

    def __post_init__(self) -> None:
        p = self.canary_percent
        if not is_integer(p) or not 0 < p < 100:
            raise CanaryError(f"an active canary's percent must be from 1 to 99, got {p!r}")
        object.__setattr__(self, "canary_percent", int(p))
        if self.srm_n_canary is None:
            object.__setattr__(self, "srm_n_canary", self.canary.n)
        if self.srm_n_stable is None:
            object.__setattr__(self, "srm_n_stable", self.stable.n)


@dataclass(frozen=True)
class RelativeDelta:
    """``canary / stable - 1`` of one metric with its always-valid interval.

    ``value`` is None when undefined (an empty arm or a stable mean of 0);
    ``low``/``high``/``p_value`` are None while an arm has fewer than 2
    decisions. ``p_value`` is the always-valid p-value ``min(1, 1/E)`` of
    "no difference"; the interval excludes 0 exactly when it is ≤ α/2.
    """

    value: float | None
    low: float | None
    high: float | None
    p_value: float | None

    @property
    def interval(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]


@dataclass(frozen=True)
class ArmComparison:
    """Deltas, confidence sequences and the sample-ratio test of one canary at one look."""

    n_canary: int
    n_stable: int
    quality_canary: float | None
    quality_stable: float | None
    latency_canary: float | None
    latency_stable: float | None
    quality: RelativeDelta
    latency: RelativeDelta
    canary_share: float | None
    expected_share: float
    srm_p_value: float | None
    srm_alarm: bool
    alpha_per_metric: float

    @property
    def quality_delta(self) -> float | None:
        return self.quality.value

    @property
    def latency_delta(self) -> float | None:
        return self.latency.value

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict (intervals as ``[low, high]`` lists or None)."""
        q, lat = self.quality, self.latency
        return {
            "n_canary": self.n_canary,
            "n_stable": self.n_stable,
            "quality_delta": q.value,
            "quality_delta_interval": q.interval,
            "quality_p_value": q.p_value,
            "latency_delta": lat.value,
            "latency_delta_interval": lat.interval,
            "latency_p_value": lat.p_value,
            "quality_canary": self.quality_canary,
            "quality_stable": self.quality_stable,
            "latency_canary": self.latency_canary,
            "latency_stable": self.latency_stable,
            "canary_share": self.canary_share,
            "expected_share": self.expected_share,
            "srm_p_value": self.srm_p_value,
            "srm_alarm": self.srm_alarm,
            "alpha_per_metric": self.alpha_per_metric,
        }


def _relative_delta(
    canary_n: int,
    canary_mean: float | None,
    canary_var: float,
    stable_n: int,
    stable_mean: float | None,
    stable_var: float,
    prior_var: float,
    alpha: float,
    tau: float,
) -> RelativeDelta:
    if canary_mean is None or stable_mean is None or not stable_mean > 0.0:
        return RelativeDelta(None, None, None, None)
    ratio = canary_mean / stable_mean
    value = ratio - 1.0
    if canary_n < 2 or stable_n < 2:
        return RelativeDelta(value, None, None, None)
    var_c = canary_var + prior_var / canary_n
    var_s = stable_var + prior_var / stable_n
    se = math.sqrt(var_c / canary_n + ratio * ratio * var_s / stable_n) / stable_mean
    if not se > 0.0:  # only when the prior variance is 0 and both arms are constant
        return RelativeDelta(value, value, value, 1.0 if value == 0.0 else 0.0)
    half = mixture_half_width(se, alpha, tau)
    p_value = min(1.0, math.exp(-mixture_log_evalue(value, se, tau)))
    return RelativeDelta(value, value - half, value + half, p_value)


def _srm(n_canary: int, n_stable: int, share: float, alpha: float) -> tuple[float | None, float | None, bool]:
    total = n_canary + n_stable
    if total == 0:
        return None, None, False
    expected_c, expected_s = total * share, total * (1.0 - share)
    stat = (n_canary - expected_c) ** 2 / expected_c + (n_stable - expected_s) ** 2 / expected_s
    p_value = float(special.chdtrc(1, stat))
    alarm = p_value < alpha and min(expected_c, expected_s) >= SRM_MIN_EXPECTED
    return n_canary / total, p_value, alarm


def compare_arms(arms: CanaryArms, config: GuardConfig) -> ArmComparison:
    """Relative deltas with always-valid intervals and the sample-ratio test (see the module docstring)."""
    c, s = arms.canary, arms.stable
    alpha = config.alpha_per_metric
    quality = _relative_delta(
        c.n, c.quality_mean, c.quality_var, s.n, s.quality_mean, s.quality_var,
        QUALITY_PRIOR_VARIANCE, alpha, config.quality_tau,
    )
    latency_prior = 0.0
    if c.latency_mean is not None and s.latency_mean is not None:
        pooled = (c.n * c.latency_mean + s.n * s.latency_mean) / (c.n + s.n)
        latency_prior = pooled * pooled
    latency = _relative_delta(
        c.n, c.latency_mean, c.latency_var, s.n, s.latency_mean, s.latency_var,
        latency_prior, alpha, config.latency_tau,
    )
    share = arms.canary_percent / 100.0
    observed, srm_p, srm_alarm = _srm(int(arms.srm_n_canary), int(arms.srm_n_stable), share, config.srm_alpha)
    return ArmComparison(
        n_canary=c.n,
        n_stable=s.n,
        quality_canary=c.quality_mean,
        quality_stable=s.quality_mean,
        latency_canary=c.latency_mean,
        latency_stable=s.latency_mean,
        quality=quality,
        latency=latency,
        canary_share=observed,
        expected_share=share,
        srm_p_value=srm_p,
        srm_alarm=srm_alarm,
        alpha_per_metric=alpha,
    )


__all__ = [
    "QUALITY_PRIOR_VARIANCE",
    "SRM_MIN_EXPECTED",
    "ArmComparison",
    "ArmStats",
    "CanaryArms",
    "RelativeDelta",
    "compare_arms",
]
