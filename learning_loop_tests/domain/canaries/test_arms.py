"""Arm statistics, relative deltas with confidence sequences, sample-ratio test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from learning_loop.domain.canaries import ArmStats, CanaryArms, CanaryError, GuardConfig, compare_arms
from learning_loop.domain.canaries.arms import QUALITY_PRIOR_VARIANCE
from learning_loop.domain.experiments import mixture_half_width


def test_from_values_and_from_sums_agree() -> None:
    rng = np.random.default_rng(3)
    q, lat = rng.beta(8, 2, 57), rng.lognormal(6.6, 0.5, 57)
    a = ArmStats.from_values(q, lat)
    b = ArmStats.from_sums(57, q.sum(), (q * q).sum(), lat.sum(), (lat * lat).sum())
    assert a.n == b.n == 57
    assert a.quality_mean == pytest.approx(q.mean()) and b.quality_mean == pytest.approx(q.mean())
    assert a.quality_var == pytest.approx(q.var()) and b.quality_var == pytest.approx(q.var())
    assert b.latency_var == pytest.approx(lat.var(), rel=1e-9)
    assert ArmStats.from_values([], []) == ArmStats(0) == ArmStats.from_sums(0, 0, 0, 0, 0)
    with pytest.raises(CanaryError, match="same length"):
        ArmStats.from_values([0.5], [])


def test_relative_delta_and_its_interval_by_hand() -> None:
    canary = ArmStats(100, 0.72, 0.04, 880.0, 90_000.0)
    stable = ArmStats(900, 0.80, 0.03, 800.0, 160_000.0)
    config = GuardConfig()
    comp = compare_arms(CanaryArms(canary, stable, 10), config)
    assert comp.quality.value == pytest.approx(0.72 / 0.80 - 1)
    assert comp.latency.value == pytest.approx(880 / 800 - 1)
    ratio = 0.72 / 0.80
    var_c = 0.04 + QUALITY_PRIOR_VARIANCE / 100
    var_s = 0.03 + QUALITY_PRIOR_VARIANCE / 900
    se = math.sqrt(var_c / 100 + ratio**2 * var_s / 900) / 0.80
    half = mixture_half_width(se, 0.005, 0.10)  # alpha split over two metrics, tau = 2 x 5 %
    assert comp.quality.low == pytest.approx(ratio - 1 - half)
    assert comp.quality.high == pytest.approx(ratio - 1 + half)
    # latency prior: pooled mean squared, weight one decision
    pooled = (100 * 880 + 900 * 800) / 1000
    l_ratio = 880 / 800
    se_l = math.sqrt((90_000 + pooled**2 / 100) / 100 + l_ratio**2 * (160_000 + pooled**2 / 900) / 900) / 800
    assert comp.latency.high - comp.latency.value == pytest.approx(mixture_half_width(se_l, 0.005, 0.20))
    # the interval excludes 0 exactly when the always-valid p-value is below alpha / 2
    for delta in (comp.quality, comp.latency):
        excludes = delta.low > 0 or delta.high < 0
        assert excludes == (delta.p_value <= comp.alpha_per_metric)


def test_interval_shrinks_with_more_decisions() -> None:
    widths = []
    for n in (50, 200, 800):
        comp = compare_arms(CanaryArms(ArmStats(n, 0.8, 0.02, 800, 1e5), ArmStats(9 * n, 0.8, 0.02, 800, 1e5), 10),
                            GuardConfig())
        widths.append(comp.quality.high - comp.quality.low)
        assert comp.quality.low < 0 < comp.quality.high
    assert widths[0] > widths[1] > widths[2]


def test_undefined_deltas() -> None:
    comp = compare_arms(CanaryArms(ArmStats(0), ArmStats(100, 0.8, 0.01, 500, 100), 10), GuardConfig())
    assert comp.quality.value is None and comp.latency.value is None and comp.quality.interval is None
    comp = compare_arms(CanaryArms(ArmStats(60, 0.5, 0.01, 0.0, 0.0), ArmStats(100, 0.0, 0.0, 0.0, 0.0), 10),
                        GuardConfig())
    assert comp.quality.value is None and comp.latency.value is None  # stable mean 0
    comp = compare_arms(CanaryArms(ArmStats(1, 0.5, 0.0, 10.0, 0.0), ArmStats(100, 0.5, 0.01, 10.0, 1.0), 10),
                        GuardConfig())
    assert comp.quality.value == 0.0 and comp.quality.interval is None  # fewer than 2 decisions


@pytest.mark.parametrize(("n_canary", "n_stable", "percent"), [(80, 920, 10), (130, 870, 10), (430, 570, 50)])
def test_srm_p_value_is_scipy_chisquare(n_canary: int, n_stable: int, percent: int) -> None:
    comp = compare_arms(
        CanaryArms(ArmStats(n_canary, 0.8, 0.01, 1, 1), ArmStats(n_stable, 0.8, 0.01, 1, 1), percent), GuardConfig()
    )
    total = n_canary + n_stable
    expected = stats.chisquare([n_canary, n_stable], [total * percent / 100, total * (100 - percent) / 100])
    assert comp.srm_p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert comp.canary_share == pytest.approx(n_canary / total)
    assert comp.srm_alarm == (expected.pvalue < 0.001)


def test_srm_uses_its_own_counts_and_needs_expected_five() -> None:
    arms = CanaryArms(ArmStats(100, 0.8, 0.01, 1, 1), ArmStats(900, 0.8, 0.01, 1, 1), 50,
                      srm_n_canary=200, srm_n_stable=210)
    comp = compare_arms(arms, GuardConfig())
    assert not comp.srm_alarm and comp.canary_share == pytest.approx(200 / 410)
    # 20 of 100 at 1 %: expected canary count 1 < 5 -> no alarm although p < 0.001
    tiny = compare_arms(CanaryArms(ArmStats(20, 0.8, 0.01, 1, 1), ArmStats(80, 0.8, 0.01, 1, 1), 1), GuardConfig())
    assert tiny.srm_p_value < 0.001 and not tiny.srm_alarm


def test_bad_canary_percent() -> None:
    for percent in (0, 100, 10.5):
        with pytest.raises(CanaryError, match="percent must be from 1 to 99"):
            CanaryArms(ArmStats(0), ArmStats(0), percent)  # type: ignore[arg-type]
