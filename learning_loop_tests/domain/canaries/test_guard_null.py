"""Seeded miniature of bench/bench_guard.py: the guard under 14 nightly checks."""

from __future__ import annotations

from scipy import stats

from learning_loop.domain.canaries import GuardConfig
from learning_loop.domain.canaries.simulation import GuardScenario, simulate_guard

SIMS = 300
# Largest count of false rollbacks among 300 canaries still consistent with a true rate of 1 %
# (binomial 99.9 % quantile): 9.
BOUND = int(stats.binom.ppf(0.999, SIMS, 0.01))


def test_no_true_difference_rarely_rolls_back() -> None:
    result = simulate_guard(GuardScenario(decisions_per_day=200, nights=14), SIMS, GuardConfig(), seed=11)
    assert result.sims == SIMS
    assert result.rollbacks <= BOUND


def test_confidence_sequence_alone_keeps_the_error() -> None:
    """With tolerances ~0 every excursion of an interval past 0 rolls back: the sequence itself must hold."""
    config = GuardConfig(max_quality_drop=1e-9, max_latency_rise=1e-9, quality_mixture_sd=0.1, latency_mixture_sd=0.2)
    result = simulate_guard(GuardScenario(decisions_per_day=200, nights=14), SIMS, config, seed=12)
    assert result.rollbacks <= BOUND


def test_confidence_sequence_is_not_a_daily_fixed_sample_test() -> None:
    """At level 0.8 a daily fixed-sample z-test rolls back ~25 % of these canaries (measured: 75 of 300);
    the mixture sequence stays far inside the allowed 20 % (measured: 4 of 300)."""
    config = GuardConfig(
        level=0.8, max_quality_drop=1e-9, max_latency_rise=1e-9, quality_mixture_sd=0.1, latency_mixture_sd=0.2
    )
    result = simulate_guard(GuardScenario(decisions_per_day=200, nights=14), SIMS, config, seed=12)
    assert result.rollbacks <= 0.05 * SIMS


def test_twenty_percent_quality_drop_is_rolled_back_within_14_nights() -> None:
    result = simulate_guard(GuardScenario(quality_drop=0.2, decisions_per_day=200), 100, GuardConfig(), seed=13)
    assert result.rollbacks == 100
    assert result.reason_count("quality_regression") == 100
    assert result.median_nights is not None and result.median_nights <= 4  # 50 canary decisions by night ~3


def test_a_quarter_more_latency_is_rolled_back() -> None:
    result = simulate_guard(GuardScenario(latency_rise=0.25, decisions_per_day=1000), 100, GuardConfig(), seed=14)
    assert result.rollback_rate >= 0.95
    assert result.reason_count("latency_regression") == result.rollbacks
