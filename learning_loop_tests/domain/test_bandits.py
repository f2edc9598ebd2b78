"""Bandit arms: posterior counts, UCB1 numbers by hand, batch-aware selection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.bandits import (
    ARM_COLUMNS,
    arm_content_type,
    arm_hour,
    arm_table,
    content_arm,
    normalize_content_type,
    thompson_select,
    timing_arm,
    ucb1_select,
)


def _ts(text: str | None) -> pd.Timestamp | None:
    return pd.Timestamp(text, tz="UTC") if text else None


@pytest.fixture()
def outcomes() -> pd.DataFrame:
    """Hand-made outcomes; expected counts are worked out in the tests."""
    rows = [
        # project, content_type, published_at, engagement_rate
        ("p", "edu", "2025-01-01 09:15", 0.05),  # success
        ("p", "Edu", "2025-01-01 09:45", 0.03),  # failure: threshold is strict
        ("p", "edu", "2025-01-02 14:00", 0.10),  # success
        ("p", "Factual!", "2025-01-02 14:30", 0.01),  # failure, arm content_factual_
        ("p", None, "2025-01-03 20:00", 0.04),  # success, arm content_unknown
        ("p", "", "2025-01-03 20:10", float("nan")),  # excluded everywhere
        ("p", "  ", None, 0.20),  # success, content_unknown, no timing arm
        ("q", "edu", "2025-01-01 03:00", 0.0),  # failure
    ]
    frame = pd.DataFrame(rows, columns=["project_id", "content_type", "published_at", "engagement_rate"])
    frame["published_at"] = [_ts(v) for v in frame["published_at"]]
    return frame


def _row(table: pd.DataFrame, project: str, arm: str) -> pd.Series:
    match = table[(table["project_id"] == project) & (table["arm"] == arm)]
    assert len(match) == 1, f"{project}/{arm}: {len(match)} rows"
    return match.iloc[0]


def test_names() -> None:
    assert normalize_content_type("Educational Thread") == "educational_thread"
    assert normalize_content_type("How-To/Guide") == "how_to_guide"
    assert normalize_content_type(None) == "unknown"
    assert normalize_content_type(float("nan")) == "unknown"
    assert normalize_content_type("   ") == "unknown"
    assert content_arm(None) == "content_unknown"
    assert timing_arm(7) == "timing_07"
    assert arm_hour("timing_07") == 7
    assert arm_content_type("content_edu") == "edu"
    with pytest.raises(ValueError):
        timing_arm(24)


def test_posterior_counts_by_hand(outcomes: pd.DataFrame) -> None:
    table = arm_table(outcomes)
    assert list(table.columns) == list(ARM_COLUMNS)
    assert table.attrs["n_excluded"] == 1  # the NaN engagement rate

    # content_edu of p: 3 pulls (0.05 success, 0.03 failure, 0.10 success).
    edu = _row(table, "p", "content_edu")
    assert (edu.pulls, edu.successes, edu.failures) == (3, 2, 1)
    assert (edu.alpha, edu.beta) == (3.0, 2.0)
    assert edu["mean"] == pytest.approx(3 / 5)
    assert edu.success_rate == pytest.approx(2 / 3)
    # Beta(3, 2) sd = sqrt(3*2 / (5^2 * 6)) = 0.2
    assert edu.posterior_sd == pytest.approx(0.2)
    assert math.isnan(edu.ucb1) and pd.isna(edu.hour)

    factual = _row(table, "p", "content_factual_")
    assert (factual.pulls, factual.successes, factual.alpha, factual.beta) == (1, 0, 1.0, 2.0)
    unknown = _row(table, "p", "content_unknown")  # None and whitespace-only; the NaN row is excluded
    assert (unknown.pulls, unknown.successes, unknown.alpha, unknown.beta) == (2, 2, 3.0, 1.0)
    assert unknown["mean"] == pytest.approx(0.75)

    # Timing of p: 09 (1 of 2), 14 (1 of 2), 20 (1 of 1); the row without published_at has none.
    assert (_row(table, "p", "timing_09").pulls, _row(table, "p", "timing_09").successes) == (2, 1)
    assert (_row(table, "p", "timing_14").pulls, _row(table, "p", "timing_14").successes) == (2, 1)
    assert (_row(table, "p", "timing_20").pulls, _row(table, "p", "timing_20").successes) == (1, 1)
    timing_p = table[(table.project_id == "p") & (table.arm_type == "timing")]
    assert len(timing_p) == 24 and timing_p["pulls"].sum() == 5
    assert list(timing_p["hour"]) == list(range(24))

    q = table[table.project_id == "q"]
    assert len(q) == 1 + 24
    assert (_row(table, "q", "content_edu").failures, _row(table, "q", "content_edu").beta) == (1, 2.0)


def test_ucb1_column_by_hand(outcomes: pd.DataFrame) -> None:
    table = arm_table(outcomes)
    # Project p: N = 5 timing pulls.
    # timing_09: 1/2 + sqrt(2 ln 5 / 2) = 0.5 + sqrt(1.609438) = 0.5 + 1.268636 = 1.768636
    assert _row(table, "p", "timing_09").ucb1 == pytest.approx(1.768636, abs=1e-6)
    # timing_20: 1/1 + sqrt(2 ln 5 / 1) = 1 + 1.794123 = 2.794123
    assert _row(table, "p", "timing_20").ucb1 == pytest.approx(2.794123, abs=1e-6)
    assert _row(table, "p", "timing_00").ucb1 == math.inf  # untried
    assert math.isnan(_row(table, "p", "timing_00").success_rate)
    assert _row(table, "p", "timing_00")["mean"] == 0.5  # Beta(1, 1) prior
    # Project q: N = n = 1 → bonus sqrt(2 ln 1 / 1) = 0, rate 0.
    assert _row(table, "q", "timing_03").ucb1 == pytest.approx(0.0)


def test_threshold_is_configurable(outcomes: pd.DataFrame) -> None:
    table = arm_table(outcomes, success_threshold=0.0)
    assert _row(table, "p", "content_edu").successes == 3
    assert _row(table, "q", "content_edu").successes == 0  # 0.0 is not > 0.0


def test_bad_inputs_never_crash() -> None:
    empty = arm_table(pd.DataFrame(columns=["project_id", "content_type", "published_at", "engagement_rate"]))
    assert empty.empty and list(empty.columns) == list(ARM_COLUMNS)
    # No content_type column, non-numeric rate, naive timestamp, null project.
    frame = pd.DataFrame(
        {
            "project_id": ["p", "p", None],
            "published_at": [pd.Timestamp("2025-01-01 05:00"), "not a date", pd.Timestamp("2025-01-01 06:00")],
            "engagement_rate": [0.5, "oops", 0.5],
        }
    )
    table = arm_table(frame)
    assert table.attrs["n_excluded"] == 2
    assert _row(table, "p", "content_unknown").pulls == 1
    assert _row(table, "p", "timing_05").successes == 1
    assert set(table.project_id) == {"p"}


def test_ucb1_select_by_hand() -> None:
    arms = pd.DataFrame({"hour": [18, 8, 12], "pulls": [1, 4, 2], "successes": [0, 3, 1]})
    # Pick 1, N=7 (ln 7 = 1.945910):
    #   08: 3/4 + sqrt(2 ln7/4) = 0.75 + 0.986385 = 1.736385
    #   12: 1/2 + sqrt(2 ln7/2) = 0.5 + 1.394959 = 1.894959
    #   18: 0/1 + sqrt(2 ln7/1) = 1.972770  → 18; pseudo-pull at rate 0: n18=2, s18=0
    # Pick 2, N=8 (ln 8 = 2.079442):
    #   08: 0.75 + 1.019667 = 1.769667; 12: 0.5 + 1.442027 = 1.942027; 18: 0 + 1.442027 → 12 (n=3, s=1.5)
    # Pick 3, N=9 (ln 9 = 2.197225):
    #   08: 0.75 + 1.048147 = 1.798147; 12: 0.5 + 1.210296 = 1.710296; 18: 1.482304 → 8 (n=5, s=3.75)
    # Pick 4, N=10: 08: 0.75 + 0.959705 = 1.709705; 12: 0.5 + 1.238974 = 1.738974 → 12
    assert ucb1_select(arms, 4) == [18, 12, 8, 12]
    assert ucb1_select(arms, 0) == []


def test_ucb1_untried_first_and_spread(outcomes: pd.DataFrame) -> None:
    table = arm_table(outcomes)
    p = table[table.project_id == "p"]  # content rows are ignored by ucb1_select
    picks = ucb1_select(p, 4)
    assert picks == [0, 1, 2, 3]  # untried hours first, lowest first
    # Three equal tried arms: picks spread over all three, ties broken by the lower hour.
    equal = pd.DataFrame({"arm": ["timing_05", "timing_03", "timing_07"], "pulls": [4, 4, 4], "successes": [2, 2, 2]})
    assert ucb1_select(equal, 3) == [3, 5, 7]
    assert ucb1_select(equal, 3) == ucb1_select(equal, 3)


def test_ucb1_after_untried_uses_scores(outcomes: pd.DataFrame) -> None:
    p = arm_table(outcomes).query("project_id == 'p'")
    picks = ucb1_select(p, 25)
    assert picks[:21] == sorted(set(range(24)) - {9, 14, 20})
    assert len(set(picks[:21])) == 21
    assert all(0 <= h <= 23 for h in picks)


def test_thompson_reproducible_with_seed() -> None:
    arms = {"content_a": (3.0, 5.0), "content_b": (4.0, 4.0), "content_c": (2.0, 2.0)}
    first = thompson_select(arms, 8, np.random.default_rng(42))
    assert first == thompson_select(arms, 8, np.random.default_rng(42))
    assert first == thompson_select(arms, 8, 42)  # an int seed works too
    # Input order does not matter.
    reordered = dict(reversed(list(arms.items())))
    assert first == thompson_select(reordered, 8, np.random.default_rng(42))
    assert len(first) == 8 and set(first) <= set(arms)
    assert any(thompson_select(arms, 8, seed) != first for seed in range(1, 6))


def test_thompson_batch_spreads_over_equal_arms() -> None:
    equal = pd.DataFrame({"arm": ["content_a", "content_b", "content_c"], "alpha": 5.0, "beta": 5.0})
    for seed in range(20):
        picks = thompson_select(equal, 6, seed)
        assert len(set(picks)) >= 2, picks
    for seed in range(20):
        assert len(set(thompson_select(equal, 6, seed, pseudo="mean"))) >= 2


def test_thompson_pseudo_failure_spreads_more_than_repeating() -> None:
    # One arm slightly ahead: without pseudo-counts a batch of 10 would be 10
    # independent draws; with pseudo-failures the leader is pulled back.
    arms = {"content_a": (3.0, 2.0), "content_b": (2.0, 3.0)}
    counts = [thompson_select(arms, 10, seed).count("content_a") for seed in range(30)]
    assert max(counts) <= 8
    assert np.mean(counts) > 5  # the better arm is still preferred


def test_thompson_exploits_a_clear_winner() -> None:
    arms = {"content_good": (60.0, 10.0), "content_bad": (10.0, 60.0)}
    assert thompson_select(arms, 3, 0) == ["content_good"] * 3


def test_selection_errors() -> None:
    with pytest.raises(ValueError, match="no arms"):
        thompson_select({}, 1, 0)
    with pytest.raises(ValueError, match="one project"):
        thompson_select(pd.DataFrame({"project_id": ["p", "q"], "arm": ["a", "b"], "alpha": 1.0, "beta": 1.0}), 1, 0)
    with pytest.raises(ValueError):
        thompson_select({"content_a": (0.0, 1.0)}, 1, 0)
    with pytest.raises(ValueError, match="no timing arms"):
        ucb1_select(pd.DataFrame({"hour": [], "pulls": [], "successes": []}), 1)
    assert thompson_select({"content_a": (1.0, 1.0)}, 0, 0) == []
