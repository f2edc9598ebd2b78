"""model_store: point-in-time reads of arms and predictor versions, selection and prediction for the planner."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from learning_loop.defs.bandits.arms import BanditConfig
from learning_loop.defs.bandits.arms import write_partition as write_arms
from learning_loop.domain.bandits import arm_table
from learning_loop.domain.predictors import LogisticResult, RidgeResult, train_logistic, train_ridge
from learning_loop.stores.models import (
    NO_FOLLOW_THROUGH_PREDICTOR,
    NO_PREDICTOR,
    GateConfig,
    assign_content_and_hours,
    latest_arms,
    latest_predictor_versions,
    latest_predictors,
    predict_jobs,
)
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B

P = "p1"


def outcomes(rows: list[tuple[str | None, int, float]], project: str = P) -> pd.DataFrame:
    """(content_type, hour, engagement_rate) → an outcomes frame for arm_table."""
    return pd.DataFrame(
        {
            "project_id": project,
            "content_type": [c for c, _, _ in rows],
            "published_at": [datetime(2024, 1, 5, h) for _, h, _ in rows],
            "engagement_rate": [e for _, _, e in rows],
        }
    )


def store_arms(wh, partition: str, frame: pd.DataFrame) -> None:
    with wh.transaction() as tx:
        write_arms(tx, date.fromisoformat(partition), arm_table(frame), BanditConfig())


# --------------------------------------------------------------------------- arms


def test_latest_arms_is_point_in_time(warehouse):
    store_arms(warehouse, "2024-01-10", outcomes([("edu", 14, 0.05)]))
    two_projects = pd.concat([outcomes([("edu", 14, 0.05), ("fact", 18, 0.01)]), outcomes([("x", 1, 0.5)], "other")])
    store_arms(warehouse, "2024-01-12", two_projects)  # the other project's arms are not mixed in
    assert latest_arms(warehouse, P, datetime(2024, 1, 10, 23, 59)).empty  # T of 01-10 is 01-11 00:00
    first = latest_arms(warehouse, P, datetime(2024, 1, 11))
    assert set(first["partition_date"]) == {date(2024, 1, 10)}
    assert first[first["arm_type"] == "content"]["arm"].tolist() == ["content_edu"]
    assert list(first["arm_type"]) == ["content"] + ["timing"] * 24  # content first, then hours in order
    assert first[first["arm_type"] == "timing"]["hour"].tolist() == list(range(24))
    timing = first.set_index("arm")
    assert np.isinf(timing.loc["timing_00", "ucb1"]) and np.isfinite(timing.loc["timing_14", "ucb1"])
    assert timing.loc["content_edu", "alpha"] == 2.0 and timing.loc["content_edu", "pulls"] == 1
    aware = datetime(2024, 1, 13, 1, tzinfo=timezone.utc)
    second = latest_arms(warehouse, P, aware)
    assert set(second["partition_date"]) == {date(2024, 1, 12)} and set(second["project_id"]) == {P}
    with warehouse.transaction() as tx:  # also inside an open transaction
        assert len(latest_arms(tx, P, aware)) == 26


def test_assignment_reproducible_spread_and_from_the_warehouse(warehouse):
    rows = [("edu", 14, 0.05), ("edu", 14, 0.01), ("fact", 18, 0.05), ("fact", 18, 0.01), (None, 9, 0.9)]
    store_arms(warehouse, "2024-01-10", outcomes(rows))
    arms = latest_arms(warehouse, P, datetime(2024, 1, 11))
    picks = assign_content_and_hours(arms, 6, seed=7)
    assert picks == assign_content_and_hours(arms, 6, seed=7)  # same seed, same batch
    types = [c for c, _ in picks]
    assert set(types) <= {"edu", "fact"} and "unknown" not in types  # content_unknown is never assigned
    assert len(set(types)) == 2  # equal posteriors: the batch spreads over both types
    hours = [h for _, h in picks]
    assert hours == [0, 1, 2, 3, 4, 5]  # UCB1 plays untried hours first, lowest first, one each
    seeds = {tuple(c for c, _ in assign_content_and_hours(arms, 6, seed=s)) for s in range(10)}
    assert len(seeds) > 1  # the seed matters


def test_ucb1_batch_spreads_over_tried_hours():
    rows = [("edu", h, 0.0) for h in range(24) if h not in (20, 21) for _ in range(10)]
    rows += [("edu", h, e) for h in (20, 21) for e in [0.05] * 6 + [0.0] * 4]
    arms = arm_table(outcomes(rows))
    # every hour tried 10 times, N = 240: hours 20 and 21 score 0.6 + sqrt(2 ln 240 / 10) ~ 1.647, the others ~ 1.047.
    # A pseudo-pull on 20 (n = 11, N = 241) drops it to 0.6 + sqrt(2 ln 241 / 11) ~ 1.599 < 21: the batch alternates
    hours = [h for _, h in assign_content_and_hours(arms, 4, seed=1)]
    assert hours == [20, 21, 20, 21]
    content = [c for c, _ in assign_content_and_hours(arms, 4, seed=1)]
    assert content == ["edu"] * 4  # a single content arm


def test_assignment_without_arms():
    empty = pd.DataFrame(columns=["project_id", "arm_type", "arm", "alpha", "beta", "pulls", "successes", "hour"])
    assert assign_content_and_hours(empty, 3, seed=1) == [(None, None)] * 3
    only_unknown = arm_table(outcomes([(None, 5, 0.5)]))
    assert assign_content_and_hours(only_unknown, 2, seed=1) == [(None, 0), (None, 1)]
    assert assign_content_and_hours(only_unknown, 0, seed=1) == []


# --------------------------------------------------------------------------- predictors


def synthetic(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    quality = rng.random(n)
    return pd.DataFrame(
        {
            "published_at": pd.date_range("2024-01-01", periods=n, freq="7h", tz="UTC"),
            "quality_score": quality,
            "content_type": rng.choice(["edu", "fact"], n),
            "engagement_rate": 0.01 + 0.06 * quality + rng.normal(0, 0.003, n),
            "novelty_score": rng.random(n),
            "expertise_level": rng.random(n),
            "viral_score": rng.random(n) * 100,
            "follow_through": rng.random(n) < 0.4,
            **{k: [RECIPE_A[k] if i % 2 else RECIPE_B[k] for i in range(n)] for k in RECIPE_A},
        }
    )


@pytest.fixture(scope="module")
def trained() -> tuple[RidgeResult, LogisticResult]:
    frame = synthetic()
    return train_ridge(frame), train_logistic(frame)


def store_version(wh, partition: str, model: str, result=None, reason: str | None = None) -> None:
    row = {
        "partition_date": date.fromisoformat(partition),
        "project_id": P,
        "model": model,
        "version_id": f"{model}:{P}:{partition}",
        "status": "trained" if result else "skipped",
        "skip_reason": reason,
        "trained_at": datetime(2030, 1, 1),
        "n_train": result.n_train if result else None,
        "model_json": json.dumps(result.to_dict()) if result else None,
    }
    with wh.transaction() as tx:
        tx.insert_df("predictor_coefficients", pd.DataFrame([row]))


def test_latest_predictors_skip_keeps_previous_version(warehouse, trained):
    ridge, logistic = trained
    assert latest_predictors(warehouse, P, datetime(2024, 3, 1)) == {
        "ridge_engagement_rate": None, "logistic_follow_through": None
    }
    store_version(warehouse, "2024-01-10", "ridge_engagement_rate", ridge)
    store_version(warehouse, "2024-01-10", "logistic_follow_through", logistic)
    store_version(warehouse, "2024-01-12", "ridge_engagement_rate", reason="ridge: only 3 usable rows")
    store_version(warehouse, "2024-01-12", "logistic_follow_through", logistic)
    versions = latest_predictor_versions(warehouse, P, datetime(2024, 1, 13))
    assert versions["ridge_engagement_rate"]["version_id"] == f"ridge_engagement_rate:{P}:2024-01-10"
    assert versions["logistic_follow_through"]["version_id"] == f"logistic_follow_through:{P}:2024-01-12"
    models = latest_predictors(warehouse, P, datetime(2024, 1, 13))
    assert isinstance(models["ridge_engagement_rate"], RidgeResult)
    assert models["ridge_engagement_rate"].coefficients == pytest.approx(ridge.coefficients)
    early = latest_predictor_versions(warehouse, P, datetime(2024, 1, 12, 12))  # T of 01-12 not reached
    assert early["logistic_follow_through"]["version_id"] == f"logistic_follow_through:{P}:2024-01-10"
    assert latest_predictors(warehouse, P, datetime(2024, 1, 10, 12))["ridge_engagement_rate"] is None


JOBS = [
    {**RECIPE_A, "content_type": "edu", "posting_hour": 14, "quality_score": 0.9, "novelty_score": 0.5,
     "expertise_level": 0.5, "viral_score": 50.0},
    {"recipe": RECIPE_B, "content_type": None, "posting_hour": None, "quality_score": float("nan")},  # nested recipe
    {"content_type": "never_seen", "quality_score": 0.1},  # manual job: no recipe, unknown type, no hour
]


def test_predict_jobs_without_predictor():
    out = predict_jobs({"ridge_engagement_rate": None, "logistic_follow_through": None}, JOBS, GateConfig())
    assert out == [
        {"predicted_engagement_rate": None, "predicted_follow_through": None,
         "prediction_reason": NO_PREDICTOR, "gate_passed": None}
    ] * 3
    assert predict_jobs({}, JOBS[:1], GateConfig())[0]["prediction_reason"] == "no trained predictor yet"
    assert predict_jobs({}, [], GateConfig()) == []


def test_predict_jobs_values_missing_features_and_gate(trained):
    ridge, logistic = trained
    predictors = {"ridge_engagement_rate": ridge, "logistic_follow_through": logistic}
    out = predict_jobs(predictors, JOBS, GateConfig())
    assert [set(o) for o in out] == [{"predicted_engagement_rate", "predicted_follow_through",
                                      "prediction_reason", "gate_passed"}] * 3
    for o in out:
        assert isinstance(o["predicted_engagement_rate"], float) and o["predicted_engagement_rate"] >= 0
        assert 0.0 < o["predicted_follow_through"] < 1.0 and o["prediction_reason"] is None
    assert out[0]["predicted_engagement_rate"] == pytest.approx(0.01 + 0.06 * 0.9, abs=0.01)
    assert out[0]["gate_passed"] is True  # ~0.064 >= 0.02
    assert out[2]["predicted_engagement_rate"] == pytest.approx(0.016, abs=0.01)
    # a NaN quality uses the training median, as does a missing one
    median_job = predict_jobs(predictors, [{**JOBS[1], "quality_score": None}], GateConfig())[0]
    assert median_job == out[1]
    strict = predict_jobs(predictors, JOBS, GateConfig(min_engagement_rate=0.5))
    assert [o["gate_passed"] for o in strict] == [False] * 3
    off = predict_jobs(predictors, JOBS, GateConfig(min_engagement_rate=None, min_follow_through=0.99))
    assert [o["gate_passed"] for o in off] == [False] * 3
    only_ridge = predict_jobs({"ridge_engagement_rate": ridge}, JOBS[:1], GateConfig())[0]
    assert only_ridge["predicted_follow_through"] is None
    assert only_ridge["prediction_reason"] == NO_FOLLOW_THROUGH_PREDICTOR and only_ridge["gate_passed"] is True


def test_gate_config_from_settings(monkeypatch):
    from learning_loop.settings import Settings

    assert GateConfig.from_settings(Settings.from_env()) == GateConfig(min_engagement_rate=0.02, min_follow_through=0.0)
    monkeypatch.setenv("LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE", "0.05")
    monkeypatch.setenv("LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH", "off")
    assert GateConfig.from_settings(Settings.from_env()) == GateConfig(min_engagement_rate=0.05, min_follow_through=None)
    monkeypatch.setenv("LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE", "lots")
    with pytest.raises(ValueError, match="LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE"):
        GateConfig.from_settings(Settings.from_env())
