"""Experiment verdicts (SPEC §6): rules, hand-checked numbers, and seeded simulations."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning_loop.domain.experiments import (
    LEVEL_ENV_VAR,
    METHOD,
    NAIVE_METHOD,
    ExperimentRules,
    Verdict,
    evaluate_verdict,
    parse_level,
    simulate_false_positive_rate,
    simulate_power,
)

START = datetime(2024, 3, 1, tzinfo=timezone.utc)
RULES = ExperimentRules()
LOW = [0.10, 0.15, 0.20, 0.12, 0.18, 0.14, 0.16, 0.11, 0.19, 0.15]
HIGH = [0.90, 0.85, 0.80, 0.88, 0.82, 0.86, 0.84, 0.89, 0.81, 0.85]
FLAT = [0.3, 0.7, 0.5, 0.4, 0.6, 0.5, 0.45, 0.55]


def day(n: float) -> datetime:
    return START + timedelta(days=n)


# --------------------------------------------------------------------------- gating and rules


def test_no_verdict_before_min_n_even_with_a_huge_effect() -> None:
    v = evaluate_verdict(LOW[:4], HIGH, RULES, START, day(3))
    assert (v.winner, v.status, v.decided_reason) == ("inconclusive", "running", "insufficient_data")
    assert v.ci_low is not None and v.ci_low > 0  # the interval is reported, but not acted on
    decided = evaluate_verdict(LOW[:5], HIGH, RULES, START, day(3))
    assert (decided.winner, decided.status, decided.decided_reason) == (
        "variant",
        "completed",
        "significant",
    )


def test_min_n_is_configurable() -> None:
    rules = ExperimentRules(min_n_per_arm=8)
    assert evaluate_verdict(LOW[:7], HIGH, rules, START, day(3)).decided_reason == "insufficient_data"
    assert evaluate_verdict(LOW[:8], HIGH, rules, START, day(3)).winner == "variant"


def test_empty_and_single_video_arms() -> None:
    empty = evaluate_verdict([], [0.5], RULES, START, day(1))
    assert (empty.n_baseline, empty.n_variant) == (0, 1)
    assert empty.baseline_mean is None and empty.effect is None
    assert empty.variant_mean == 0.5
    assert empty.ci_low is None and empty.ci_high is None and empty.mde is None
    assert empty.statistic == 0.0
    one = evaluate_verdict([0.2], [0.6, 0.8], RULES, START, day(1))
    assert one.effect == pytest.approx(0.5)
    assert one.mde is None and one.ci_low is None
    assert one.status == "running"


def test_baseline_can_win() -> None:
    v = evaluate_verdict(HIGH, LOW, RULES, START, day(4))
    assert (v.winner, v.status, v.decided_reason) == ("baseline", "completed", "significant")
    assert v.ci_high is not None and v.ci_high < 0


def test_undecided_after_max_duration_completes_inconclusive() -> None:
    running = evaluate_verdict(FLAT, FLAT[::-1], RULES, START, day(28) - timedelta(seconds=1))
    assert (running.status, running.decided_reason) == ("running", "not_significant")
    done = evaluate_verdict(FLAT, FLAT[::-1], RULES, START, day(28))
    assert (done.winner, done.status, done.decided_reason) == ("inconclusive", "completed", "max_duration")
    starved = evaluate_verdict([0.5], [], RULES, START, day(30))
    assert (starved.winner, starved.status, starved.decided_reason) == (
        "inconclusive",
        "completed",
        "max_duration",
    )
    short = ExperimentRules(max_duration_days=7)
    assert evaluate_verdict(FLAT, FLAT, short, START, day(7)).decided_reason == "max_duration"


def test_significance_on_the_last_day_still_wins() -> None:
    v = evaluate_verdict(LOW, HIGH, RULES, START, day(28))
    assert (v.winner, v.decided_reason) == ("variant", "significant")


def test_completed_verdict_never_changes() -> None:
    first = evaluate_verdict(LOW, HIGH, RULES, START, day(5))
    assert first.status == "completed"
    later = evaluate_verdict(HIGH * 5, LOW * 5, RULES, START, day(20), previous=first)
    assert later is first
    expired = evaluate_verdict(FLAT, FLAT, RULES, START, day(28))
    assert evaluate_verdict(LOW, HIGH, RULES, START, day(29), previous=expired) is expired


def test_running_previous_verdict_is_re_evaluated() -> None:
    running = evaluate_verdict(LOW[:3], HIGH[:3], RULES, START, day(1))
    assert running.status == "running"
    assert evaluate_verdict(LOW, HIGH, RULES, START, day(4), previous=running).winner == "variant"


def test_rules_are_frozen_and_later_setting_changes_do_not_alter_them() -> None:
    settings = {LEVEL_ENV_VAR: "0.99"}
    rules = ExperimentRules.from_mapping(settings)
    assert rules.level == 0.99
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.level = 0.5  # type: ignore[misc]
    settings[LEVEL_ENV_VAR] = "0.5"
    v = evaluate_verdict(FLAT, HIGH[:8], rules, START, day(5))
    same = evaluate_verdict(FLAT, HIGH[:8], ExperimentRules(level=0.99), START, day(5))
    looser = evaluate_verdict(FLAT, HIGH[:8], ExperimentRules(level=0.5), START, day(5))
    assert v == same
    assert looser.mde is not None and v.mde is not None and looser.mde < v.mde
    assert ExperimentRules.from_mapping(settings).level == 0.5  # only new rules see the new value


def test_invalid_rules_and_inputs_are_rejected() -> None:
    for bad in (dict(level=1.0), dict(level=0.0), dict(level=float("nan")), dict(min_n_per_arm=1),
                dict(max_duration_days=0), dict(min_n_per_arm=5.0)):
        with pytest.raises(ValueError):
            ExperimentRules(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_verdict([0.5, 1.2], FLAT, RULES, START, day(1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_verdict(FLAT, [0.5, float("nan")], RULES, START, day(1))
    with pytest.raises(ValueError, match="before"):
        evaluate_verdict(FLAT, FLAT, RULES, START, START - timedelta(hours=1))


# --------------------------------------------------------------------------- settings


def test_level_from_mapping_default_and_valid_values() -> None:
    assert ExperimentRules.from_mapping({}).level == 0.95
    assert ExperimentRules.from_mapping({LEVEL_ENV_VAR: "  "}).level == 0.95
    assert ExperimentRules.from_mapping({LEVEL_ENV_VAR: " 0.9 "}).level == 0.9
    rules = ExperimentRules.from_mapping({LEVEL_ENV_VAR: "0.99"}, min_n_per_arm=7, max_duration_days=14)
    assert rules == ExperimentRules(level=0.99, min_n_per_arm=7, max_duration_days=14)
    assert rules.alpha == pytest.approx(0.01)
    assert rules.to_dict() == {"level": 0.99, "min_n_per_arm": 7, "max_duration_days": 14}


def test_from_mapping_reads_only_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEVEL_ENV_VAR, "0.5")
    assert ExperimentRules.from_mapping({}).level == 0.95
    assert not hasattr(ExperimentRules, "from_env")


@pytest.mark.parametrize("text", ["abc", "95", "0", "1", "1.0", "-0.05", "nan", "inf", "0,95"])
def test_level_from_mapping_rejects_bad_values(text: str) -> None:
    with pytest.raises(ValueError, match=LEVEL_ENV_VAR):
        ExperimentRules.from_mapping({LEVEL_ENV_VAR: text})


def test_percent_level_gets_a_hint() -> None:
    with pytest.raises(ValueError, match=r"did you mean 0\.95"):
        parse_level("95")


# --------------------------------------------------------------------------- numbers


def test_hand_checked_numbers() -> None:
    baseline = [0.2, 0.4, 0.6, 0.4, 0.4]  # mean 0.4, sum of squares about the mean 0.08
    variant = [0.6, 0.8, 0.7, 0.7, 0.7]  # mean 0.7, sum of squares 0.02
    v = evaluate_verdict(baseline, variant, RULES, START, day(2))
    assert (v.n_baseline, v.n_variant) == (5, 5)
    assert v.baseline_mean == pytest.approx(0.4)
    assert v.variant_mean == pytest.approx(0.7)
    assert v.effect == pytest.approx(0.3)
    # shrunk variances (SS + 1/12) / n, then se² = var_b / n_b + var_v / n_v
    se2 = (0.08 + 1 / 12) / 5 / 5 + (0.02 + 1 / 12) / 5 / 5
    assert se2 == pytest.approx(0.0106667, abs=1e-6)
    ratio = 0.1**2 / se2  # tau² / se²
    half = math.sqrt(se2 * (1 + 1 / ratio) * (math.log(1 + ratio) + 2 * math.log(20)))
    assert half == pytest.approx(0.38297, abs=1e-4)
    assert v.mde == pytest.approx(half)
    assert v.ci_low == pytest.approx(0.3 - half)
    assert v.ci_high == pytest.approx(0.3 + half)
    assert v.statistic == pytest.approx(0.5 * 0.3**2 / se2 * ratio / (1 + ratio) - 0.5 * math.log(1 + ratio))
    assert v.statistic < math.log(20)  # not significant: the CI contains 0
    assert (v.winner, v.status, v.method) == ("inconclusive", "running", METHOD)


def test_statistic_crosses_log_one_over_alpha_exactly_when_ci_excludes_zero() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n_b, n_v = rng.integers(5, 60, size=2)
        b = rng.beta(2, 3, size=n_b)
        v = rng.beta(2 + rng.uniform(0, 2), 3, size=n_v)
        verdict = evaluate_verdict(b, v, RULES, START, day(10))
        assert verdict.ci_low is not None and verdict.ci_high is not None
        excludes_zero = verdict.ci_low > 0 or verdict.ci_high < 0
        assert excludes_zero == (verdict.statistic >= math.log(1 / RULES.alpha))


def test_ci_contains_true_effect() -> None:
    rng = np.random.default_rng(11)
    v = evaluate_verdict(rng.beta(2, 2, 60), rng.beta(3, 1.5, 60), RULES, START, day(20))
    true_effect = 3 / 4.5 - 0.5
    assert v.ci_low is not None and v.ci_high is not None
    assert v.ci_low < true_effect < v.ci_high
    covered = 0
    for _ in range(300):
        n_b, n_v = rng.integers(5, 90, size=2)
        w = evaluate_verdict(rng.beta(2, 2, n_b), rng.beta(3, 1.5, n_v), RULES, START, day(20))
        covered += w.ci_low < true_effect < w.ci_high  # type: ignore[operator]
    assert covered / 300 >= 0.95


def test_to_dict_is_json_ready() -> None:
    v = evaluate_verdict(LOW, HIGH, RULES, START, day(3))
    d = v.to_dict()
    assert set(d) == {f.name for f in dataclasses.fields(Verdict)}
    assert json.loads(json.dumps(d)) == d
    assert d["winner"] == "variant" and d["n_baseline"] == 10


rewards = st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=40)


@settings(max_examples=150, deadline=None)
@given(rewards, rewards, st.floats(min_value=0, max_value=40))
def test_verdict_is_consistent_for_any_arms(b: list[float], v: list[float], days: float) -> None:
    verdict = evaluate_verdict(b, v, RULES, START, day(days))
    if verdict.ci_low is not None and verdict.ci_high is not None and verdict.effect is not None:
        assert verdict.ci_low <= verdict.effect <= verdict.ci_high
        assert verdict.mde == pytest.approx((verdict.ci_high - verdict.ci_low) / 2)
    assert (verdict.status == "completed") == (verdict.winner != "inconclusive" or days >= 28)
    if verdict.winner == "variant":
        assert verdict.ci_low is not None and verdict.ci_low > 0 and min(len(b), len(v)) >= 5
    if verdict.winner == "baseline":
        assert verdict.ci_high is not None and verdict.ci_high < 0 and min(len(b), len(v)) >= 5


# --------------------------------------------------------------------------- simulations


def test_aa_false_positive_rate_under_daily_looks() -> None:
    """400 A/A experiments, ~3 videos/arm/day, a look every day for 28 days.

    Bound 0.05 + 0.03 (> 2.5 binomial sds at n=400); the method measures ≈ 0.02.
    The naive daily t-test on the same data must fail the same check.
    """
    fpr = simulate_false_positive_rate(400, seed=2024)
    naive = simulate_false_positive_rate(400, seed=2024, method=NAIVE_METHOD)
    assert fpr <= RULES.alpha + 0.03
    assert naive >= 0.15
    assert naive > fpr + 0.1


def test_power_at_the_stated_effect() -> None:
    """True effect 0.25 (baseline 0.45 → variant 0.70, sd 0.2), ~3 videos/arm/day, 28 days."""
    assert simulate_power(200, seed=2024, effect=0.25, baseline_mean=0.45, sd=0.2) >= 0.8


def test_simulation_is_reproducible_with_a_seed() -> None:
    assert simulate_power(30, seed=5, effect=0.1) == simulate_power(30, seed=5, effect=0.1)
    with pytest.raises(ValueError):
        simulate_power(0)
    with pytest.raises(ValueError):
        simulate_false_positive_rate(10, method="bogus")
