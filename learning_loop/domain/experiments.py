"""Experiment verdicts that stay valid under daily looking (SPEC §6).

Pure statistics: no Dagster, no database. Rewards are per-video percentile
rewards in [0, 1]; an experiment compares a baseline arm with a variant arm.

Method: normal-mixture confidence sequence
------------------------------------------
Verdicts are re-evaluated every day, so a fixed-sample test is not enough:
checking a t-test at 5 % every day for 28 days declares a winner in about
24–28 % of A/A experiments. Instead the effect (variant mean − baseline mean)
gets an *always-valid* confidence interval — a confidence sequence, which
covers the true effect at every look simultaneously with probability
``level`` — so looking daily, or at any other times, costs nothing.

With Welch standard error ``se`` (per-arm variances, see below) the interval is
``effect ± h`` with::

    h = se * sqrt((1 + se²/τ²) * (ln(1 + τ²/se²) + 2 ln(1/α)))      α = 1 − level

This is Robbins' normal-mixture boundary (Howard et al. 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences"; the mixture SPRT of
Johari et al. 2017). Why it is valid under peeking: for Gaussian rewards,
``I·(effect − true effect)`` with information ``I = 1/se²`` has independent
Gaussian increments in ``I`` whatever the daily arrival counts of each arm,
so the likelihood ratio mixed over alternatives ``N(0, τ²)`` is a
nonnegative martingale with mean 1, and Ville's inequality bounds the chance
that it *ever* exceeds ``1/α`` by ``α``. The boundary above is exactly where
that mixture ratio equals ``1/α``. Plugging in the sample variance makes this
an asymptotic confidence sequence (Waudby-Smith et al. 2024); the small-n
error is checked by simulation (tests and ``bench/bench_verdicts.py``).

* ``statistic`` is that log mixture likelihood ratio against zero effect
  (``ln E``); the experiment is significant iff ``statistic ≥ ln(1/α)``,
  which is the same as the interval excluding 0; it is 0 (no evidence) while
  an arm has fewer than 2 videos. ``min(1, exp(-statistic))`` is an
  always-valid p-value.
* ``mde`` is ``h``: the smallest |effect| that would be declared significant
  at the current n and variance.
* Each arm's variance is shrunk toward 1/12 (the variance of a uniform
  percentile) with the weight of one video: ``(SS + 1/12) / n``. This keeps
  ``se > 0`` when rewards tie and damps over-confident decisions at n≈5.
* ``τ = 0.1`` (the mixture's prior scale of the effect) puts the tightest
  part of the boundary at the information reached after 28 days of about
  3 videos per arm per day (se ≈ 0.045), i.e. where the smallest effects
  can be found.

Measured (``bench/bench_verdicts.py``, 5000 experiments each) with ~3 videos
per arm per day (Poisson arrivals), min 5 per arm, daily looks for 28 days,
level 0.95: A/A false-positive rate 0.012–0.017 for uniform, bimodal and
skewed rewards (a naive daily Welch t-test on the same data: ≈ 0.25). Power
for the stated effect of 0.25 (baseline mean 0.45 → variant 0.70, per-video
sd 0.2) is 1.00, usually decided within a week; smaller effects at sd 0.29
are found with power ≈ 0.69 (0.15) and ≈ 0.30 (0.10) — the price of looking
every day.

Rules: no verdict until both arms have ``min_n_per_arm`` videos; a winner as
soon as the interval excludes 0; undecided after ``max_duration_days`` →
completed, inconclusive; a completed verdict never changes. The rules are
frozen onto the experiment when it is created (``ExperimentRules``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
from scipy import stats

Winner = Literal["baseline", "variant", "inconclusive"]
Status = Literal["running", "completed"]
DecidedReason = Literal["insufficient_data", "not_significant", "significant", "max_duration"]

LEVEL_ENV_VAR = "AB_TEST_SIGNIFICANCE_LEVEL"
DEFAULT_LEVEL = 0.95
#: Prior scale τ of the effect in the normal mixture (reward units).
MIXTURE_SD = 0.1
#: Variance of a Uniform(0, 1) percentile reward: the prior variance each arm is shrunk toward.
PRIOR_VARIANCE = 1.0 / 12.0
METHOD = f"normal_mixture_cs(tau={MIXTURE_SD:g})"
NAIVE_METHOD = "naive_daily_welch_t"
UNIFORM_SD = math.sqrt(PRIOR_VARIANCE)


# --------------------------------------------------------------------------- rules


def _check_level(level: float) -> float:
    """Return ``level`` as a float, or raise ValueError unless it is a number in (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise ValueError(f"significance level must be a number in (0, 1), got {level!r}")
    value = float(level)
    if not (0.0 < value < 1.0):  # also rejects NaN
        hint = f" (did you mean {value / 100:g}?)" if 1.0 < value < 100.0 else ""
        raise ValueError(f"significance level must be in (0, 1), got {level!r}{hint}")
    return value


def parse_level(text: str | None) -> float:
    """Parse an ``AB_TEST_SIGNIFICANCE_LEVEL`` value; unset or blank means 0.95."""
    if text is None or not text.strip():
        return DEFAULT_LEVEL
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(
            f"{LEVEL_ENV_VAR} must be a number in (0, 1) such as 0.95, got {text!r}"
        ) from None
    try:
        return _check_level(value)
    except ValueError as exc:
        raise ValueError(f"{LEVEL_ENV_VAR}: {exc}") from None


@dataclass(frozen=True)
class ExperimentRules:
    """Decision rules, frozen onto an experiment when it is created."""

    level: float = DEFAULT_LEVEL
    min_n_per_arm: int = 5
    max_duration_days: int = 28

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _check_level(self.level))
        if isinstance(self.min_n_per_arm, bool) or not isinstance(self.min_n_per_arm, int):
            raise ValueError(f"min_n_per_arm must be an int, got {self.min_n_per_arm!r}")
        if self.min_n_per_arm < 2:
            raise ValueError(f"min_n_per_arm must be at least 2, got {self.min_n_per_arm}")
        if isinstance(self.max_duration_days, bool) or not isinstance(self.max_duration_days, int):
            raise ValueError(f"max_duration_days must be an int, got {self.max_duration_days!r}")
        if self.max_duration_days < 1:
            raise ValueError(f"max_duration_days must be at least 1, got {self.max_duration_days}")

    @property
    def alpha(self) -> float:
        """Allowed false-positive rate, ``1 - level``."""
        return 1.0 - self.level

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        min_n_per_arm: int = 5,
        max_duration_days: int = 28,
    ) -> ExperimentRules:
        """Rules with the level read from ``AB_TEST_SIGNIFICANCE_LEVEL`` (default 0.95)."""
        env = os.environ if environ is None else environ
        return cls(
            level=parse_level(env.get(LEVEL_ENV_VAR)),
            min_n_per_arm=min_n_per_arm,
            max_duration_days=max_duration_days,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for storing the frozen rules with the experiment."""
        return asdict(self)


# --------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Verdict:
    """An experiment's verdict as of one evaluation (see the module docstring).

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


# --------------------------------------------------------------------------- simulation


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
    ``videos_per_day`` arrivals per arm. ``method`` is ``METHOD`` (this module's
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
