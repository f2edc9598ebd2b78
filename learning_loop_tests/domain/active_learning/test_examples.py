"""Labeled examples: precedence, stats, red flags, daily growth (SPEC §9, runbook 003)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from learning_loop.domain.active_learning.examples import daily_growth, labeled_stats, red_flags, resolve_examples
from learning_loop_tests.domain.active_learning.helpers import label_rows

AS_OF = pd.Timestamp("2024-01-15 00:00:00")


def test_gold_beats_approvals_beats_feedback():
    labels = label_rows(
        [
            ("a", "e1", "feedback", 0, "2024-01-10"),
            ("a", "e1", "gold", 1, "2024-01-01"),  # oldest, but gold wins
            ("a", "e1", "approvals", 0, "2024-01-12"),
            ("a", "e2", "feedback", 1, "2024-01-10"),
            ("a", "e2", "approvals", 0, "2024-01-02"),
            ("a", "e3", "feedback", 1, "2024-01-03"),
            ("b", "e1", "feedback", 0, "2024-01-03"),  # same example id, other agent
        ]
    )
    examples = resolve_examples(labels, AS_OF)
    got = {(r.agent, r.example_id): (r.source, r.label) for r in examples.itertuples()}
    assert got == {
        ("a", "e1"): ("gold", 1),
        ("a", "e2"): ("approvals", 0),
        ("a", "e3"): ("feedback", 1),
        ("b", "e1"): ("feedback", 0),
    }


def test_precedence_is_point_in_time():
    labels = label_rows([("a", "e1", "feedback", 0, "2024-01-10"), ("a", "e1", "gold", 1, "2024-01-20")])
    assert resolve_examples(labels, AS_OF)["label"].tolist() == [0]  # the gold label did not exist yet
    assert resolve_examples(labels, "2024-01-21T00:00:00+00:00")["label"].tolist() == [1]


def test_features_json_column_is_expanded_and_kept_with_the_chosen_label():
    labels = label_rows([("a", "e1", "gold", 1, "2024-01-10"), ("a", "e1", "feedback", 0, "2024-01-11")])
    labels["features"] = [json.dumps({"risk": 70.0}), json.dumps({"risk": 10.0, "other": 1.0})]
    labels["confidence"] = [95.0, 20.0]
    example = resolve_examples(labels, AS_OF).iloc[0]
    assert example["f_risk"] == 70.0 and pd.isna(example["f_other"]) and example["confidence"] == 95.0


def stats_labels() -> pd.DataFrame:
    return label_rows(
        [
            ("inbox_triage", "e1", "gold", 1, "2024-01-14 23:59:59"),  # recent
            ("inbox_triage", "e1", "feedback", 0, "2024-01-02"),  # same example, second source
            ("inbox_triage", "e2", "approvals", 1, "2024-01-08 00:00:00"),  # exactly 7 days before: recent
            ("inbox_triage", "e3", "approvals", 0, "2024-01-07 23:59:59"),  # just older than 7 days
            ("post_gate", "p1", "feedback", 1, "2024-01-10"),
            ("post_gate", "p2", "feedback", 0, "2024-01-15 00:00:00"),  # at as_of: not before it
        ]
    )


def test_labeled_stats_counts_label_rows():
    assert labeled_stats(stats_labels(), AS_OF) == {
        "total": 5,
        "by_source": {"approvals": 2, "feedback": 2, "gold": 1},
        "by_agent": {"inbox_triage": 4, "post_gate": 1},
        "recent_7d": 3,
    }


def test_labeled_stats_of_nothing():
    assert labeled_stats(stats_labels(), "2023-01-01") == {"total": 0, "by_source": {}, "by_agent": {}, "recent_7d": 0}


def many(agent: str, n: int, start: str, label=lambda i: i % 2, prefix: str = "") -> list[tuple]:
    """n feedback labels of distinct examples, one per hour from start."""
    stamps = pd.date_range(start, periods=n, freq="h")
    return [(agent, f"{agent}-{prefix}{i}", "feedback", label(i), stamps[i]) for i in range(n)]


def test_red_flags():
    labels = label_rows(
        many("healthy", 120, "2024-01-01")  # old examples
        + many("healthy", 30, "2024-01-13", label=lambda i: 1, prefix="new")  # 30 new ones in the last 7 days
        + many("skewed", 150, "2024-01-08", label=lambda i: 1 if i < 140 else 0)
        + many("tiny", 5, "2024-01-14")
    )
    flags = red_flags(labels, AS_OF, agents=["silent"])
    found = {(f.check, f.agent) for f in flags}
    assert found == {
        ("few_examples", "tiny"),
        ("slow_growth", "tiny"),
        ("few_examples", "silent"),
        ("slow_growth", "silent"),
        ("label_imbalance", "skewed"),
    }
    few = next(f for f in flags if f.check == "few_examples" and f.agent == "tiny")
    assert (few.observed, few.limit) == (5, 100) and "tiny has 5 labeled examples" in few.message
    skew = next(f for f in flags if f.check == "label_imbalance")
    assert skew.observed == pytest.approx(140 / 150)
    # healthy: 150 examples, 30 new in 7 days, 60/150 ones; recent_7d = 30 + 150 + 5 >= 50


def test_red_flags_low_recent_and_growth_counts_new_examples_only():
    labels = label_rows(
        many("a", 120, "2023-12-01")
        + [("a", "a-0", "gold", 0, "2024-01-14")]  # a newer label of an old example is not growth
    )
    flags = {(f.check, f.agent): f for f in red_flags(labels, AS_OF)}
    assert set(flags) == {("low_recent_labels", None), ("slow_growth", "a")}
    assert flags[("low_recent_labels", None)].observed == 1
    assert flags[("slow_growth", "a")].observed == 0


def test_daily_growth_per_source_and_day_zero_filled():
    growth = daily_growth(stats_labels(), AS_OF, days=3)
    assert list(growth.columns) == ["day", "source", "examples"]
    assert len(growth) == 3 * 3
    by = {(r.day.strftime("%m-%d"), r.source): r.examples for r in growth.itertuples()}
    assert by[("01-14", "gold")] == 1
    assert sum(by.values()) == 1  # everything else is older than 3 days or not before as_of
    assert by[("01-12", "feedback")] == 0
    assert daily_growth(stats_labels(), AS_OF, days=14, agent="post_gate")["examples"].sum() == 1
    with pytest.raises(ValueError):
        daily_growth(stats_labels(), AS_OF, days=0)
