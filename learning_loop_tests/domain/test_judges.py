"""Judge weights from gold labels, and their alerts (SPEC §12)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.judges import (
    WEIGHT_COLUMNS,
    JudgeWeightError,
    judge_weights,
    weight_alerts,
    weights_mapping,
)

AS_OF = datetime(2024, 3, 1, tzinfo=timezone.utc)
AGENT = "inbox_triage"


def gold_frame(labels: np.ndarray, agent: str = AGENT, days_ago: float = 5) -> pd.DataFrame:
    return pd.DataFrame({
        "agent": agent,
        "example_id": [f"e{i}" for i in range(labels.size)],
        "label": labels,
        "labeled_at": AS_OF - timedelta(days=days_ago),
    })


def judgment_frame(scores: dict[str, np.ndarray], agent: str = AGENT, days_ago: float = 4) -> pd.DataFrame:
    parts = [
        pd.DataFrame({
            "agent": agent, "example_id": [f"e{i}" for i in range(s.size)], "judge": judge, "score": s,
            "judged_at": AS_OF - timedelta(days=days_ago),
        })
        for judge, s in scores.items()
    ]
    return pd.concat(parts, ignore_index=True)


def test_perfect_beats_noisy_beats_random() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 400)
    scores = {
        "perfect": np.where(labels == 1, 0.9, 0.1),
        "noisy": np.clip(0.5 * labels + rng.uniform(0, 0.6, 400), 0, 1),
        "random": rng.uniform(0, 1, 400),
        "inverted": np.where(labels == 1, 0.1, 0.9),
    }
    w = judge_weights(judgment_frame(scores), gold_frame(labels), AS_OF).set_index("judge")
    assert list(judge_weights(judgment_frame(scores), gold_frame(labels), AS_OF).columns) == WEIGHT_COLUMNS
    assert w.loc["perfect", "weight"] == pytest.approx(400 / 420)  # AUC 1, shrunk with k = 20
    assert w.loc["perfect", "weight"] > w.loc["noisy", "weight"] > w.loc["random", "weight"]
    assert w.loc["noisy", "weight"] > 0.4
    assert w.loc["random", "weight"] < 0.1
    assert w.loc["inverted", "weight"] == 0.0 and w.loc["inverted", "auc"] == pytest.approx(0.0)
    assert (w["reason"] == "ok").all() and (w["n_gold"] == 400).all()
    assert w["weight"].between(0, 1).all()
    assert weights_mapping(w.reset_index())[AGENT]["perfect"] == pytest.approx(400 / 420)


def test_shrinkage_with_few_gold_examples() -> None:
    labels = np.array([0, 1] * 5)
    perfect = {"perfect": labels.astype(float)}
    few = judge_weights(judgment_frame(perfect), gold_frame(labels), AS_OF)
    assert few.loc[0, "raw_agreement"] == 1.0 and few.loc[0, "weight"] == pytest.approx(10 / 30)
    none = judge_weights(judgment_frame(perfect), gold_frame(labels), AS_OF, prior_n=0)
    assert none.loc[0, "weight"] == 1.0


def test_one_class_and_no_gold_get_zero_with_a_reason() -> None:
    labels = np.ones(30, dtype=int)
    one = judge_weights(judgment_frame({"j": np.linspace(0, 1, 30)}), gold_frame(labels), AS_OF)
    assert one.loc[0, "weight"] == 0.0 and one.loc[0, "reason"] == "one_class" and one.loc[0, "n_gold"] == 30
    other_agent = gold_frame(np.array([0, 1] * 20), agent="post_gate")
    missing = judge_weights(judgment_frame({"j": np.linspace(0, 1, 30)}), other_agent, AS_OF)
    assert missing.loc[0, "weight"] == 0.0 and missing.loc[0, "reason"] == "no_gold" and missing.loc[0, "n_gold"] == 0


def test_trailing_window_and_point_in_time() -> None:
    labels = np.array([0, 1] * 50)
    good = {"j": labels.astype(float)}
    # a pair counts when the later of its two times is in the 30 days before as_of
    old = judge_weights(judgment_frame(good, days_ago=40), gold_frame(labels, days_ago=45), AS_OF)
    assert old.loc[0, "reason"] == "no_gold"
    rejudged = judge_weights(judgment_frame(good, days_ago=2), gold_frame(labels, days_ago=90), AS_OF)
    assert rejudged.loc[0, "n_gold"] == 100
    assert judge_weights(judgment_frame(good, days_ago=40), gold_frame(labels, days_ago=45), AS_OF,
                         window_days=60).loc[0, "n_gold"] == 100
    # labels and judgments at or after as_of are not known yet
    future = judge_weights(judgment_frame(good), gold_frame(labels, days_ago=-1), AS_OF)
    assert future.loc[0, "reason"] == "no_gold"
    assert judge_weights(judgment_frame(good, days_ago=0), gold_frame(labels), AS_OF).empty


def test_latest_score_supersedes_and_only_gold_source_counts() -> None:
    labels = np.array([0, 1] * 30)
    earlier = judgment_frame({"j": 1.0 - labels}, days_ago=6)  # inverted, then corrected
    later = judgment_frame({"j": labels.astype(float)}, days_ago=3)
    gold = gold_frame(labels)
    gold["source"] = "gold"
    feedback = gold_frame(1 - labels).assign(source="feedback")
    w = judge_weights(pd.concat([later, earlier]), pd.concat([gold, feedback]), AS_OF)
    assert w.loc[0, "auc"] == 1.0


def test_bad_input() -> None:
    with pytest.raises(JudgeWeightError, match="judgments lack column\\(s\\) score"):
        judge_weights(pd.DataFrame(columns=["agent", "example_id", "judge", "judged_at"]), gold_frame(np.ones(2)), AS_OF)
    with pytest.raises(JudgeWeightError, match="window_days"):
        judge_weights(judgment_frame({"j": np.ones(2)}), gold_frame(np.ones(2)), AS_OF, window_days=0)


def weights(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"agent": a, "judge": j, "weight": w, "reason": "ok"} for a, j, w in rows])


def test_weight_alerts() -> None:
    current = weights([
        ("inbox_triage", "gpt-4", 0.15),
        ("inbox_triage", "gpt-3.5-turbo", 0.58),
        ("inbox_triage", "claude-3-opus", 0.79),
        ("insights_writer", "claude-3-sonnet", 0.25),
    ])
    previous = weights([
        ("inbox_triage", "gpt-4", 0.2),
        ("inbox_triage", "gpt-3.5-turbo", 0.85),
        ("inbox_triage", "claude-3-opus", 0.95),
    ])
    alerts = weight_alerts(current, previous)
    warn = {(a.kind, a.agent, a.judge) for a in alerts.warn}
    assert warn == {
        ("low_weight", "inbox_triage", "gpt-4"),
        ("weight_drop", "inbox_triage", "gpt-3.5-turbo"),  # 0.27 drop
        ("low_weight", "insights_writer", "claude-3-sonnet"),
    }  # claude-3-opus dropped 0.16: no alert
    assert [(a.kind, a.judge, a.level) for a in alerts.error] == [("critical_low_weight", "gpt-4", "ERROR")]
    assert "0.15 < 0.2" in alerts.error[0].message
    drop = next(a for a in alerts.warn if a.kind == "weight_drop")
    assert drop.previous_weight == 0.85 and "dropped from 0.85 to 0.58" in drop.message
    # no history: only levels; other critical judges
    custom = weight_alerts(current, None, critical_judges=["claude-3-sonnet"], error_below=0.3)
    assert [a.judge for a in custom.error] == ["claude-3-sonnet"]
    assert len(weight_alerts(current).warn) == 2
