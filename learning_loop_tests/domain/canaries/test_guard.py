"""The guard's decision, the recommendation built on it, and auto-promotion."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from learning_loop.domain.canaries import (
    ArmStats,
    CanaryArms,
    CanaryError,
    GuardConfig,
    auto_promotion_due,
    guard_decision,
    recommend,
)

Q_VAR = 0.15**2  # per-decision quality sd 0.15
L_VAR = (0.53 * 800) ** 2  # latency coefficient of variation ~0.53


def arms(
    n_canary: int,
    n_stable: int,
    *,
    quality: float = 0.8,
    latency: float = 800.0,
    percent: int = 10,
) -> CanaryArms:
    return CanaryArms(
        ArmStats(n_canary, quality, Q_VAR, latency, L_VAR) if n_canary else ArmStats(0),
        ArmStats(n_stable, 0.8, Q_VAR, 800.0, L_VAR),
        percent,
    )


def test_quality_regression_rolls_back_with_deltas_in_details() -> None:
    decision = guard_decision(arms(400, 3600, quality=0.70), GuardConfig())
    assert (decision.action, decision.reason) == ("rollback", "quality_regression")
    assert decision.details["quality_delta"] == pytest.approx(-0.125)
    low, high = decision.details["quality_delta_interval"]
    assert low < -0.125 < high < 0
    assert decision.details["n_canary"] == 400 and decision.details["n_stable"] == 3600
    assert decision.regressions == ["quality_regression"]
    assert recommend(decision) == "rollback"


def test_latency_regression_rolls_back() -> None:
    decision = guard_decision(arms(400, 3600, latency=1000.0), GuardConfig())
    assert (decision.action, decision.reason) == ("rollback", "latency_regression")
    assert decision.details["latency_delta"] == pytest.approx(0.25)
    assert decision.details["latency_delta_interval"][0] > 0


def test_both_regressions_report_quality_first() -> None:
    decision = guard_decision(arms(400, 3600, quality=0.70, latency=1000.0), GuardConfig())
    assert decision.reason == "quality_regression"
    assert decision.regressions == ["quality_regression", "latency_regression"]


def test_significant_drop_beyond_tolerance_is_enough() -> None:
    """Reading (a): estimate beyond -5 % and interval below 0, even if the interval reaches above -5 %."""
    decision = guard_decision(arms(250, 2250, quality=0.736), GuardConfig())  # -8 %
    low, high = decision.details["quality_delta_interval"]
    assert -0.05 < high < 0
    assert decision.action == "rollback"


def test_drop_beyond_tolerance_but_not_significant() -> None:
    decision = guard_decision(arms(50, 450, quality=0.736), GuardConfig())
    assert decision.details["quality_delta_interval"][1] > 0
    assert (decision.action, decision.reason) == ("none", "not_significant")
    assert recommend(decision) == "monitor"


def test_significant_drop_within_tolerance_is_not_rolled_back() -> None:
    decision = guard_decision(arms(20_000, 180_000, quality=0.776), GuardConfig())  # -3 %, very precise
    assert decision.details["quality_delta_interval"][1] < 0
    assert (decision.action, decision.reason) == ("none", "within_limits")
    assert recommend(decision) == "promote"  # interval lies inside the tolerance


def test_no_difference_with_much_data_recommends_promote() -> None:
    decision = guard_decision(arms(2000, 18000), GuardConfig())
    assert (decision.action, decision.reason) == ("none", "within_limits")
    assert recommend(decision) == "promote"
    small = guard_decision(arms(60, 540), GuardConfig())
    assert (small.action, recommend(small)) == ("none", "monitor")  # intervals still too wide


def test_tolerances_are_configurable() -> None:
    lenient = GuardConfig(max_quality_drop=0.15, max_latency_rise=0.30)
    assert guard_decision(arms(400, 3600, quality=0.70), lenient).action == "none"
    assert guard_decision(arms(400, 3600, latency=1000.0), lenient).action == "none"
    strict = GuardConfig(max_latency_rise=0.05)
    assert guard_decision(arms(4000, 36000, latency=880.0), strict).reason == "latency_regression"


def test_level_widens_the_interval() -> None:
    loose = guard_decision(arms(300, 2700), GuardConfig(level=0.9)).details["quality_delta_interval"]
    tight = guard_decision(arms(300, 2700), GuardConfig(level=0.999)).details["quality_delta_interval"]
    assert tight[0] < loose[0] and tight[1] > loose[1]


def test_minimum_sample_refusal() -> None:
    decision = guard_decision(arms(49, 451, quality=0.2), GuardConfig())
    assert (decision.action, decision.reason) == ("refused", "insufficient_data")
    assert recommend(decision) == "monitor"
    assert guard_decision(arms(50, 450, quality=0.2), GuardConfig()).action == "rollback"
    custom = GuardConfig(min_decisions_per_arm=100)
    assert guard_decision(arms(60, 540, quality=0.2), custom).reason == "insufficient_data"


def test_sample_ratio_mismatch_refuses_before_anything_else() -> None:
    # 300 canary decisions of 4000 at 10 % (expected 400): a routing fault, even with a clear regression
    decision = guard_decision(arms(300, 3700, quality=0.5), GuardConfig())
    assert (decision.action, decision.reason) == ("refused", "sample_ratio_mismatch")
    assert decision.details["srm_p_value"] < 0.001
    assert recommend(decision) == "monitor"
    # a canary that gets no traffic at all is a mismatch, not just missing data
    assert guard_decision(arms(0, 1000), GuardConfig()).reason == "sample_ratio_mismatch"
    # with a tiny srm_alpha the same data is judged (and rolled back)
    assert guard_decision(arms(300, 3700, quality=0.5), GuardConfig(srm_alpha=1e-12)).action == "rollback"


def test_guard_rejects_other_inputs() -> None:
    with pytest.raises(CanaryError, match="guard_decision needs CanaryArms"):
        guard_decision(object(), GuardConfig())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"max_quality_drop": 0}, "max_quality_drop"),
        ({"max_latency_rise": -0.1}, "max_latency_rise"),
        ({"level": 1.0}, "level"),
        ({"level": 99}, "level"),
        ({"min_decisions_per_arm": 1}, "min_decisions_per_arm"),
        ({"srm_alpha": 0}, "srm_alpha"),
        ({"quality_mixture_sd": 0.0}, "quality_mixture_sd"),
    ],
)
def test_config_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(CanaryError, match=pattern):
        GuardConfig(**kwargs)


T = datetime(2024, 1, 15, 5, 0, tzinfo=timezone.utc)


def test_auto_promotion_due() -> None:
    h = timedelta(hours=1)
    history = [(T, "monitor"), (T + 6 * h, "promote"), (T + 12 * h, "promote"), (T + 30 * h, "promote")]
    assert auto_promotion_due(history, 24)  # promote since T+6h, latest look T+30h
    assert not auto_promotion_due(history, 25)
    assert auto_promotion_due(history, 25, as_of=T + 31 * h)
    assert auto_promotion_due(list(reversed(history)), 24)  # order does not matter
    broken = [(T, "promote"), (T + 10 * h, "monitor"), (T + 20 * h, "promote"), (T + 40 * h, "promote")]
    assert not auto_promotion_due(broken, 24)  # run restarted at T+20h
    assert not auto_promotion_due([(T, "promote"), (T + 30 * h, "monitor")], 1)
    assert not auto_promotion_due([], 0)
    assert auto_promotion_due([(T, "promote")], 0)
    with pytest.raises(CanaryError, match="recommendation must be one of"):
        auto_promotion_due([(T, "ship it")], 1)
    with pytest.raises(CanaryError, match="hold_hours"):
        auto_promotion_due(history, -1)
