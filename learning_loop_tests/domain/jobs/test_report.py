from datetime import date, datetime

import pandas as pd
import pytest

from learning_loop.domain.jobs.report import last_complete_week, render_markdown, week_label, week_of, weekly_report

MON = date(2026, 3, 2)  # ISO week 2026-W10


def test_weeks():
    assert week_of(date(2026, 3, 8)) == (MON, date(2026, 3, 9))
    assert week_label(MON) == "2026-W10"
    assert last_complete_week(datetime(2026, 3, 9, 9, 0)) == MON
    assert last_complete_week(datetime(2026, 3, 8, 23, 0)) == date(2026, 2, 23)


def hand_made_week():
    return dict(
        rewards=pd.DataFrame({"partition_date": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 4)],
                              "reward": [9.0, 0.2, 0.4, 0.9]}),
        batches=pd.DataFrame({"created_at": [datetime(2026, 3, 2, 6), datetime(2026, 3, 3, 6), datetime(2026, 3, 9, 6)],
                              "planned": [5, 5, 5], "explore_count": [1, 2, 5]}),
        experiments=pd.DataFrame({"completed_at": [datetime(2026, 3, 3), datetime(2026, 3, 4), None],
                                  "winner": ["variant", "inconclusive", None]}),
        labels=pd.DataFrame({"labeled_at": [datetime(2026, 2, 1), datetime(2026, 3, 2, 1), datetime(2026, 3, 8, 23),
                                            datetime(2026, 3, 9)],
                             "source": ["gold", "feedback", "gold", "gold"]}),
        approvals=pd.DataFrame({
            "status": ["pending", "approved", "applied", "rejected", "approved"],
            "created_at": [datetime(2026, 3, 1), datetime(2026, 2, 28), datetime(2026, 3, 2), datetime(2026, 3, 3),
                           datetime(2026, 3, 5)],
            "decided_at": [None, datetime(2026, 3, 2), datetime(2026, 3, 3), datetime(2026, 3, 4), datetime(2026, 3, 10)],
        }),
        audit=pd.DataFrame({"at": [datetime(2026, 3, 3), datetime(2026, 3, 4), datetime(2026, 3, 5), datetime(2026, 3, 10)],
                            "action": ["promoted", "force_promoted", "rolled_back", "rolled_back"]}),
        weights=pd.DataFrame({"partition_date": [date(2026, 3, 7)] * 2, "agent": ["triage"] * 2,
                              "judge": ["j1", "j2"], "weight": [0.8, 0.1]}),
    )


def test_report_numbers_against_a_hand_computed_week():
    r = weekly_report(MON, **hand_made_week(), alerts=["failed_run_rate: 2 of 10"])
    assert r.week == "2026-W10"
    assert r.reward_trend == [{"date": "2026-03-02", "mean_reward": pytest.approx(0.3), "videos": 2},
                              {"date": "2026-03-04", "mean_reward": pytest.approx(0.9), "videos": 1}]
    assert r.mean_reward == pytest.approx(0.5)
    assert r.explore_share == pytest.approx(3 / 10) and r.batches == 2
    assert r.experiments_decided == {"inconclusive": 1, "variant": 1}
    assert r.new_labels_by_source == {"feedback": 1, "gold": 1}
    assert r.labels_total == 3
    # pending at the week's end: the pending one and the one decided on 03-10
    assert r.approvals_pending == 2
    assert r.approvals_decided == {"approved": 2, "rejected": 1}
    assert (r.promotions, r.rollbacks) == (2, 1)
    assert r.judge_weights == {"triage": {"j1": 0.8, "j2": 0.1}}
    md = render_markdown(r, [("Reward trend", "reward_trend.png")])
    assert "# Learning report 2026-W10" in md and "Explore share: 30.0% over 2 batches" in md
    assert "| triage | j2 | 0.100 |" in md and "- failed_run_rate: 2 of 10" in md
    assert "![Reward trend](reward_trend.png)" in md


def test_empty_week_and_bad_monday():
    empty = {k: v.iloc[0:0] for k, v in hand_made_week().items()}
    r = weekly_report(MON, **empty)
    assert r.mean_reward is None and r.explore_share is None and r.labels_total == 0
    assert "Alerts\n\nnone" in render_markdown(r)
    with pytest.raises(ValueError):
        weekly_report(date(2026, 3, 3), **empty)
