"""Simulated experiments with daily looks: the A/A false-positive rate and the power
of the verdicts (and of a naive daily Welch t-test, for comparison)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy import stats

from learning_loop.domain.experiments.rules import ExperimentRules
from learning_loop.domain.experiments.verdict import METHOD, PRIOR_VARIANCE, Verdict, Winner, evaluate_verdict

NAIVE_METHOD = "naive_daily_welch_t"
UNIFORM_SD = math.sqrt(PRIOR_VARIANCE)


def beta_from_moments(mean: float, sd: float) -> tuple[float, float]:
    """Beta(a, b) parameters with the given mean and sd (rewards in [0, 1])."""
    if not (0.0 < mean < 1.0) or sd <= 0.0 or sd**2 >= mean * (1.0 - mean):
        raise ValueError(f"no Beta distribution on [0, 1] has mean {mean} and sd {sd}")
    k = mean * (1.0 - mean) / sd**2 - 1.0
    return mean * k, (1.0 - mean) * k


@dataclass(frozen=True)
class _Scenario:
    """Data-generating process for simulated experiments with daily looks."""

    baseline: tuple[float, float]  # Beta parameters
    variant: tuple[float, float]
    rules: ExperimentRules
    videos_per_day: float
    started_at: datetime = field(default=datetime(2024, 1, 1, tzinfo=timezone.utc))


def _simulate_arms(scenario: _Scenario, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Rewards of both arms plus their cumulative counts after each day (Poisson arrivals)."""
    days = scenario.rules.max_duration_days
    counts = rng.poisson(scenario.videos_per_day, size=(2, days))
    baseline = rng.beta(*scenario.baseline, size=int(counts[0].sum()))
    variant = rng.beta(*scenario.variant, size=int(counts[1].sum()))
    return baseline, variant, np.cumsum(counts[0]), np.cumsum(counts[1])


def _sequential_winner(scenario: _Scenario, arms: tuple[np.ndarray, ...]) -> Winner:
    """Run ``evaluate_verdict`` once a day until it completes; the final winner."""
    baseline, variant, n_b, n_v = arms
    verdict: Verdict | None = None
    for day in range(1, scenario.rules.max_duration_days + 1):
        as_of = scenario.started_at + timedelta(days=day)
        verdict = evaluate_verdict(
            baseline[: n_b[day - 1]],
            variant[: n_v[day - 1]],
            scenario.rules,
            scenario.started_at,
            as_of,
            verdict,
        )
        if verdict.status == "completed":
            break
    return "inconclusive" if verdict is None else verdict.winner


def _naive_winner(scenario: _Scenario, arms: tuple[np.ndarray, ...]) -> Winner:
    """Welch t-test at ``1 - level`` every day (same min-n gate); the first significant side."""
    baseline, variant, n_b, n_v = arms
    looks = (n_b >= scenario.rules.min_n_per_arm) & (n_v >= scenario.rules.min_n_per_arm)
    if not looks.any():
        return "inconclusive"
    n_b, n_v = n_b[looks], n_v[looks]
    b_mean, b_sd = _cumulative_moments(baseline, n_b)
    v_mean, v_sd = _cumulative_moments(variant, n_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        test = stats.ttest_ind_from_stats(v_mean, v_sd, n_v, b_mean, b_sd, n_b, equal_var=False)
    hits = np.flatnonzero(np.nan_to_num(test.pvalue, nan=1.0) < scenario.rules.alpha)
    if hits.size == 0:
        return "inconclusive"
    return "variant" if test.statistic[hits[0]] > 0 else "baseline"


def _cumulative_moments(rewards: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd (ddof=1) of ``rewards[:n]`` for each n in ``ns`` (all n >= 2)."""
    sums = np.cumsum(rewards)[ns - 1]
    squares = np.cumsum(rewards**2)[ns - 1]
    means = sums / ns
    variances = np.maximum(squares - ns * means**2, 0.0) / (ns - 1)
    return means, np.sqrt(variances)


def _win_rate(
    scenario: _Scenario,
    n_sims: int,
    seed: int | np.random.Generator,
    method: str,
    counted: frozenset[str],
) -> float:
    """Share of ``n_sims`` simulated experiments whose winner under ``method`` is in ``counted``."""
    if n_sims < 1:
        raise ValueError(f"n_sims must be at least 1, got {n_sims}")
    if method not in (METHOD, NAIVE_METHOD):
        raise ValueError(f"method must be {METHOD!r} or {NAIVE_METHOD!r}, got {method!r}")
    decide = _sequential_winner if method == METHOD else _naive_winner
    rng = np.random.default_rng(seed)
    hits = sum(decide(scenario, _simulate_arms(scenario, rng)) in counted for _ in range(n_sims))
    return hits / n_sims


def simulate_false_positive_rate(
    n_sims: int = 400,
    *,
    rules: ExperimentRules | None = None,
    seed: int | np.random.Generator = 0,
    videos_per_day: float = 3.0,
    mean: float = 0.5,
    sd: float = UNIFORM_SD,
    method: str = METHOD,
) -> float:
    """A/A false-positive rate under daily looks for ``rules.max_duration_days`` days.

    Both arms draw Beta rewards with the given mean and sd (default Uniform(0, 1),
    which is what percentile rewards are when nothing differs) and Poisson
    ``videos_per_day`` arrivals per arm. ``method`` is ``METHOD`` (the
    verdicts) or ``NAIVE_METHOD`` (a daily Welch t-test); the same seed gives
    both methods the same data.
    """
    params = beta_from_moments(mean, sd)
    scenario = _Scenario(params, params, rules or ExperimentRules(), videos_per_day)
    return _win_rate(scenario, n_sims, seed, method, frozenset({"baseline", "variant"}))


def simulate_power(
    n_sims: int = 400,
    *,
    effect: float = 0.25,
    rules: ExperimentRules | None = None,
    seed: int | np.random.Generator = 0,
    videos_per_day: float = 3.0,
    baseline_mean: float = 0.45,
    sd: float = 0.2,
    method: str = METHOD,
) -> float:
    """Share of experiments with a true ``effect`` in which the better arm is declared the winner.

    Baseline rewards are Beta with ``baseline_mean`` and ``sd``; variant rewards
    Beta with ``baseline_mean + effect`` and the same sd; daily looks as in
    :func:`simulate_false_positive_rate`.
    """
    scenario = _Scenario(
        beta_from_moments(baseline_mean, sd),
        beta_from_moments(baseline_mean + effect, sd),
        rules or ExperimentRules(),
        videos_per_day,
    )
    better: Winner = "variant" if effect > 0 else "baseline"
    return _win_rate(scenario, n_sims, seed, method, frozenset({better}))


__all__ = [
    "NAIVE_METHOD",
    "UNIFORM_SD",
    "beta_from_moments",
    "simulate_false_positive_rate",
    "simulate_power",
]
