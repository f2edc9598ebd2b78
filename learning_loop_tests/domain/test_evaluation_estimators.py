"""IPW, SNIPW, DR, the bootstrap interval and the weight diagnostics on hand-made logs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from learning_loop.domain.evaluation import (
    bootstrap_ratio_interval,
    doubly_robust,
    importance_weights,
    ipw,
    snipw,
    weight_diagnostics,
)
from learning_loop.domain.evaluation.estimators import doubly_robust_terms

# four logged rounds, computed by hand below
REWARDS = [1.0, 0.0, 0.5, 1.0]
TARGET = [0.5, 0.25, 0.0, 1.0]  # π_e(a_i|x_i)
LOGGED = [0.25, 0.5, 0.5, 0.5]  # π_b(a_i|x_i)  -> w = [2, 0.5, 0, 2]
Q_LOGGED = [0.6, 0.2, 0.4, 0.8]  # q̂(x_i, a_i)
Q_TARGET = [0.7, 0.3, 0.5, 0.9]  # q̂_π(x_i)


def test_weights_and_diagnostics_by_hand():
    w = importance_weights(TARGET, LOGGED)
    assert w.tolist() == [2.0, 0.5, 0.0, 2.0]
    d = weight_diagnostics(w)
    assert d.n == 4 and d.zero_weight_rounds == 1 and d.max_weight == 2.0
    assert d.mean_weight == pytest.approx(4.5 / 4)
    assert d.effective_sample_size == pytest.approx(4.5**2 / (4 + 0.25 + 0 + 4))  # (Σw)²/Σw² = 2.4545…


def test_estimators_by_hand():
    w = importance_weights(TARGET, LOGGED)
    assert ipw(REWARDS, w).value == pytest.approx((2 * 1 + 0.5 * 0 + 0 * 0.5 + 2 * 1) / 4)  # 1.0
    assert snipw(REWARDS, w).value == pytest.approx(4.0 / 4.5)
    # DR terms: 0.7 + 2(1 − 0.6), 0.3 + 0.5(0 − 0.2), 0.5 + 0, 0.9 + 2(1 − 0.8)
    terms = doubly_robust_terms(REWARDS, w, Q_LOGGED, Q_TARGET)
    assert terms == pytest.approx([1.5, 0.2, 0.5, 1.3])
    assert doubly_robust(REWARDS, w, Q_LOGGED, Q_TARGET).value == pytest.approx(3.5 / 4)


def test_on_policy_weights_give_the_plain_mean():
    rewards = [0.2, 0.4, 0.9]
    w = importance_weights([0.3, 0.5, 0.1], [0.3, 0.5, 0.1])
    assert ipw(rewards, w).value == pytest.approx(0.5) and snipw(rewards, w).value == pytest.approx(0.5)


def test_interval_is_seeded_contains_the_value_and_shrinks_with_level():
    rng = np.random.default_rng(3)
    rewards = rng.uniform(0, 1, 300)
    w = rng.uniform(0.2, 3.0, 300)
    first, again = ipw(rewards, w, seed=5), ipw(rewards, w, seed=5)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert first.ci_low < first.value < first.ci_high
    narrow = ipw(rewards, w, level=0.5, seed=5)
    assert first.ci_low < narrow.ci_low < narrow.ci_high < first.ci_high
    ratio = snipw(rewards, w, seed=5)
    assert ratio.ci_low < ratio.value < ratio.ci_high and ratio.level == 0.95


def test_bootstrap_of_a_mean_matches_the_normal_interval():
    values = np.random.default_rng(0).standard_normal(2000)
    low, high = bootstrap_ratio_interval(values, level=0.95, n_bootstrap=4000, seed=1)
    half = 1.96 * values.std() / math.sqrt(len(values))
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    assert (low + high) / 2 == pytest.approx(values.mean(), abs=0.2 * half)


def test_constant_terms_give_a_point_interval_and_zero_weights_no_snipw():
    e = ipw([0.5] * 10, [1.0] * 10)
    assert e.ci_low == pytest.approx(0.5) and e.ci_high == pytest.approx(0.5)
    nothing = snipw([0.5, 0.7], [0.0, 0.0])
    assert math.isnan(nothing.value) and math.isnan(nothing.ci_low)
    assert weight_diagnostics([0.0, 0.0]).effective_sample_size == 0.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="propensities"):
        importance_weights([0.5], [0.0])
    with pytest.raises(ValueError, match="target"):
        importance_weights([1.5], [0.5])
    with pytest.raises(ValueError, match="length"):
        ipw([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="level"):
        ipw([0.5], [1.0], level=1.0)
