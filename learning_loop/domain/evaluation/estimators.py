"""Off-policy estimators of a target policy's mean reward from logged rounds (issue 12, item 4).

Definitions follow Open Bandit Pipeline (``obp.ope``: ``InverseProbabilityWeighting``,
``SelfNormalizedInverseProbabilityWeighting``, ``DoublyRobust``). With logged rounds
``(x_i, a_i, r_i)``, ``i = 1..n``, drawn by the logging policy ``π_b`` and the importance
weight ``w_i = π_e(a_i|x_i) / π_b(a_i|x_i)``:

- **IPW**   ``V = mean(w_i r_i)`` — unbiased when ``π_b`` is right and covers ``π_e``'s support;
- **SNIPW** ``V = Σ w_i r_i / Σ w_i`` — biased but consistent, bounded by the rewards' range;
- **DR**    ``V = mean(q̂_π(x_i) + w_i (r_i − q̂(x_i, a_i)))`` with ``q̂_π(x) = Σ_a π_e(a|x) q̂(x, a)``
  — unbiased when either the weights or ``q̂`` are right; ``q̂`` is a control variate.

Intervals are OBP's ``estimate_interval`` style: a nonparametric percentile bootstrap over
the logged rounds (resample ``n`` rounds with replacement, recompute, take the ``(1−level)/2``
and ``(1+level)/2`` quantiles), seeded so the same input gives the same interval. IPW and DR
resample their per-round terms as OBP does; for SNIPW the *ratio* is recomputed on every
resample (OBP resamples ``w r / mean(w)`` with the full-sample mean fixed, which ignores the
denominator's variance).

Weight diagnostics: the effective sample size ``(Σ w)² / Σ w²`` (Kish), the mean weight
(≈ 1 when ``π_b`` is right and covers ``π_e``; far from 1 means missing support or wrong
propensities) and the largest weight.

Pure numpy; no Dagster, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_LEVEL = 0.95
DEFAULT_BOOTSTRAP_SAMPLES = 2000
DEFAULT_SEED = 0
#: Bootstrap resamples are drawn in chunks so memory stays ~ chunk × n indices.
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class Estimate:
    """One estimator's value and its bootstrap interval (NaN when undefined, e.g. Σw = 0)."""

    name: str
    value: float
    ci_low: float
    ci_high: float
    level: float


@dataclass(frozen=True)
class WeightDiagnostics:
    """How much the logged rounds say about the target policy."""

    n: int
    effective_sample_size: float  # (Σw)² / Σw², between 0 (no overlap) and n (w constant)
    mean_weight: float  # ≈ 1 when the logging policy covers the target's support
    max_weight: float
    zero_weight_rounds: int  # rounds the target policy would never have chosen


def _array(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be within (0, 1), got {level}")


def importance_weights(target_probabilities, logged_propensities) -> np.ndarray:
    """``w = π_e(a|x) / π_b(a|x)``; propensities must be positive, target probabilities non-negative."""
    target = _array(target_probabilities, "target_probabilities")
    logged = _array(logged_propensities, "logged_propensities")
    if target.shape != logged.shape:
        raise ValueError("target_probabilities and logged_propensities differ in length")
    if np.any(logged <= 0) or np.any(logged > 1):
        raise ValueError("logged propensities must be within (0, 1]")
    if np.any(target < 0) or np.any(target > 1 + 1e-9):
        raise ValueError("target probabilities must be within [0, 1]")
    return target / logged


def weight_diagnostics(weights) -> WeightDiagnostics:
    w = _array(weights, "weights")
    if len(w) == 0:
        return WeightDiagnostics(0, 0.0, float("nan"), float("nan"), 0)
    squares = float(np.sum(w**2))
    ess = float(np.sum(w)) ** 2 / squares if squares > 0 else 0.0
    return WeightDiagnostics(
        n=len(w),
        effective_sample_size=ess,
        mean_weight=float(np.mean(w)),
        max_weight=float(np.max(w)),
        zero_weight_rounds=int(np.sum(w == 0)),
    )


def bootstrap_ratio_interval(
    numerator,
    denominator=None,
    level: float = DEFAULT_LEVEL,
    n_bootstrap: int = DEFAULT_BOOTSTRAP_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``Σ numerator / Σ denominator`` over rounds.

    ``denominator`` None means all ones (the statistic is the mean of ``numerator``). Each
    resample draws ``n`` rounds with replacement from ``numpy.random.default_rng(seed)``.
    Resamples whose denominator sums to 0 are left out; NaN bounds when none is left.
    """
    _check_level(level)
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    num = _array(numerator, "numerator")
    den = np.ones_like(num) if denominator is None else _array(denominator, "denominator")
    n = len(num)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n)
    stats: list[np.ndarray] = []
    remaining = n_bootstrap
    while remaining > 0:
        size = min(chunk, remaining)
        index = rng.integers(0, n, size=(size, n))
        top, bottom = num[index].sum(axis=1), den[index].sum(axis=1)
        stats.append(np.divide(top, bottom, out=np.full(size, np.nan), where=bottom != 0))
        remaining -= size
    values = np.concatenate(stats)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - level
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _checked(rewards, weights) -> tuple[np.ndarray, np.ndarray]:
    r = _array(rewards, "rewards")
    w = _array(weights, "weights")
    if r.shape != w.shape:
        raise ValueError("rewards and weights differ in length")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return r, w


def ipw(
    rewards, weights, level: float = DEFAULT_LEVEL, n_bootstrap: int = DEFAULT_BOOTSTRAP_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Inverse propensity weighting: ``mean(w_i r_i)``."""
    r, w = _checked(rewards, weights)
    terms = w * r
    value = float(np.mean(terms)) if len(terms) else float("nan")
    low, high = bootstrap_ratio_interval(terms, None, level, n_bootstrap, seed)
    return Estimate("ipw", value, low, high, level)


def snipw(
    rewards, weights, level: float = DEFAULT_LEVEL, n_bootstrap: int = DEFAULT_BOOTSTRAP_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Self-normalised IPW: ``Σ w_i r_i / Σ w_i`` (NaN when every weight is 0)."""
    r, w = _checked(rewards, weights)
    total = float(np.sum(w))
    value = float(np.sum(w * r)) / total if total > 0 else float("nan")
    low, high = bootstrap_ratio_interval(w * r, w, level, n_bootstrap, seed)
    return Estimate("snipw", value, low, high, level)


def doubly_robust_terms(rewards, weights, q_hat_logged, q_hat_target) -> np.ndarray:
    """Per-round DR terms ``q̂_π(x_i) + w_i (r_i − q̂(x_i, a_i))`` (OBP's round rewards)."""
    r, w = _checked(rewards, weights)
    q_logged = _array(q_hat_logged, "q_hat_logged")
    q_target = _array(q_hat_target, "q_hat_target")
    if not (q_logged.shape == q_target.shape == r.shape):
        raise ValueError("rewards, q_hat_logged and q_hat_target differ in length")
    return q_target + w * (r - q_logged)


def doubly_robust(
    rewards, weights, q_hat_logged, q_hat_target, level: float = DEFAULT_LEVEL,
    n_bootstrap: int = DEFAULT_BOOTSTRAP_SAMPLES, seed: int = DEFAULT_SEED,
) -> Estimate:
    """Doubly robust: ``mean(q̂_π(x_i) + w_i (r_i − q̂(x_i, a_i)))``.

    ``q_hat_logged[i] = q̂(x_i, a_i)``, ``q_hat_target[i] = q̂_π(x_i)``. The reward model is
    held fixed in the bootstrap (as OBP does); fit it by cross-fitting so a round's ``q̂`` was
    not trained on that round.
    """
    terms = doubly_robust_terms(rewards, weights, q_hat_logged, q_hat_target)
    value = float(np.mean(terms)) if len(terms) else float("nan")
    low, high = bootstrap_ratio_interval(terms, None, level, n_bootstrap, seed)
    return Estimate("dr", value, low, high, level)
