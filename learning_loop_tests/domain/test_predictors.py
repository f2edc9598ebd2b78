"""Predictors: ridge and logistic on synthetic data, bad values, insufficient data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.predictors import (
    InsufficientDataError,
    LogisticResult,
    RidgeResult,
    expected_calibration_error,
    ridge_features,
    train_logistic,
    train_ridge,
)
from learning_loop.domain.recipe import RECIPE_FIELDS

T0 = pd.Timestamp("2025-01-01", tz="UTC")

# True ridge model (engagement scale ~1 so a ±0.1 tolerance is meaningful).
TRUE_INTERCEPT = 0.2
TRUE_QUALITY = 0.8
TRUE_SIN = 0.5
TRUE_COS = -0.3
TRUE_CONTENT = {"edu": 0.0, "fact": 0.4, "story": -0.2}
TRUE_HOOK = {"question": 0.0, "story": -0.3}
TRUE_SCENES = {5: 0.0, 8: 0.25}


def _ridge_data(n: int, seed: int = 0, noise: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    published = T0 + pd.to_timedelta(rng.integers(0, 60 * 24 * 60, n), unit="min")
    hour = published.hour.to_numpy()
    frame = pd.DataFrame(
        {
            "published_at": published,
            "quality_score": rng.uniform(0, 1, n),
            "content_type": rng.choice(list(TRUE_CONTENT), n),
            "preset": "DARK",
            "hook_type": rng.choice(list(TRUE_HOOK), n),
            "scene_count": rng.choice(list(TRUE_SCENES), n),
            "narration_wpm_bucket": "medium",
            "caption_density_bucket": "sparse",
            "ending_type": "loop",
        }
    )
    frame["engagement_rate"] = (
        TRUE_INTERCEPT
        + TRUE_QUALITY * frame["quality_score"]
        + TRUE_SIN * np.sin(2 * np.pi * hour / 24)
        + TRUE_COS * np.cos(2 * np.pi * hour / 24)
        + frame["content_type"].map(TRUE_CONTENT)
        + frame["hook_type"].map(TRUE_HOOK)
        + frame["scene_count"].map(TRUE_SCENES)
        + rng.normal(0, noise, n)
    )
    return frame


def _logistic_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "published_at": T0 + pd.to_timedelta(np.arange(n) * 10, unit="min"),
            "novelty_score": rng.uniform(0, 1, n),
            "expertise_level": rng.uniform(0, 1, n),
            "viral_score": rng.uniform(0, 100, n),
        }
    )
    logit = -4.5 + 4.0 * frame.novelty_score + 3.0 * frame.expertise_level + 2.0 * frame.viral_score / 100
    frame["follow_through"] = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return frame


# --------------------------------------------------------------------------- ridge


@pytest.fixture(scope="module")
def ridge() -> RidgeResult:
    return train_ridge(_ridge_data(2000))


def test_ridge_recovers_known_coefficients(ridge: RidgeResult) -> None:
    c = ridge.coefficients
    assert c["quality_score"] == pytest.approx(TRUE_QUALITY, abs=0.1)
    assert c["hour_sin"] == pytest.approx(TRUE_SIN, abs=0.1)
    assert c["hour_cos"] == pytest.approx(TRUE_COS, abs=0.1)
    # Full one-hots: only differences between levels are identified.
    assert c["content_type=fact"] - c["content_type=edu"] == pytest.approx(0.4, abs=0.1)
    assert c["content_type=story"] - c["content_type=edu"] == pytest.approx(-0.2, abs=0.1)
    assert c["hook_type=story"] - c["hook_type=question"] == pytest.approx(-0.3, abs=0.1)
    assert c["scene_count=8"] - c["scene_count=5"] == pytest.approx(0.25, abs=0.1)
    assert set(c) == set(ridge.feature_names)


def test_ridge_beats_mean_predictor_out_of_time(ridge: RidgeResult) -> None:
    assert (ridge.n_train, ridge.n_holdout, ridge.n_rows) == (1600, 400, 2000)
    assert ridge.mae < 0.6 * ridge.baseline_mae
    assert ridge.r2 is not None and ridge.r2 > 0.5
    assert ridge.baseline_r2 is not None and ridge.baseline_r2 <= 0.01
    assert ridge.alpha in ridge.hyperparameters["alphas"]


def test_ridge_holdout_is_the_newest_rows() -> None:
    frame = _ridge_data(40, seed=3).sample(frac=1.0, random_state=1)  # input order shuffled
    result = train_ridge(frame, cv=3)
    newest = frame["published_at"].sort_values().iloc[-result.n_holdout]
    assert (result.n_train, result.n_holdout) == (32, 8)
    assert pd.Timestamp(result.holdout_start) == newest


def test_ridge_round_trips_through_json(ridge: RidgeResult) -> None:
    data = json.loads(json.dumps(ridge.to_dict()))
    restored = RidgeResult.from_dict(data)
    rows = _ridge_data(50, seed=9)
    np.testing.assert_allclose(restored.predict(rows), ridge.predict(rows))
    assert restored == ridge
    with pytest.raises(ValueError):
        RidgeResult.from_dict({**data, "model_type": "logistic"})


def test_ridge_predict_matches_truth_without_noise() -> None:
    result = train_ridge(_ridge_data(600, seed=5, noise=0.0), alphas=(1e-6,))
    rows = _ridge_data(20, seed=6, noise=0.0)
    np.testing.assert_allclose(result.predict(rows), rows["engagement_rate"], atol=1e-3)
    # Plain dicts work too, and an explicit hour wins over published_at.
    one = rows.iloc[0].to_dict()
    assert result.predict([one])[0] == pytest.approx(rows["engagement_rate"].iloc[0], abs=1e-3)
    planned = {k: v for k, v in one.items() if k != "published_at"} | {"posting_hour": one["published_at"].hour}
    assert result.predict(planned)[0] == pytest.approx(rows["engagement_rate"].iloc[0], abs=1e-3)


def test_ridge_features_documented_policy() -> None:
    frame = pd.DataFrame(
        {
            "published_at": [T0 + pd.Timedelta(hours=6), T0, T0 + pd.Timedelta(hours=18)],
            "quality_score": [0.2, float("nan"), 0.8],
            "content_type": ["Edu", None, ""],
            "preset": ["DARK", None, None],
            "hook_type": ["question", None, None],
            "scene_count": [7.0, None, None],
            "narration_wpm": [150.0, None, None],  # bucket derived: medium
            "caption_density_bucket": ["dense", None, None],
            "ending_type": ["loop", None, None],
            "engagement_rate": [0.1, 0.2, 0.3],
        }
    )
    X, names = ridge_features(frame)
    assert list(X.columns) == names
    assert names[:3] == ["quality_score", "hour_sin", "hour_cos"]
    assert X.loc[1, "quality_score"] == pytest.approx(0.5)  # median of 0.2 and 0.8
    assert X.loc[0, "hour_sin"] == pytest.approx(1.0) and X.loc[0, "hour_cos"] == pytest.approx(0.0, abs=1e-12)
    assert X.loc[1, "hour_cos"] == pytest.approx(1.0)
    assert X.loc[1, "content_type=unknown"] == 1.0 and X.loc[2, "content_type=unknown"] == 1.0
    assert X.loc[0, "content_type=edu"] == 1.0
    recipe_columns = [n for n in names if n.split("=")[0] in RECIPE_FIELDS]
    assert sorted(recipe_columns) == sorted(
        [
            "preset=DARK",
            "hook_type=question",
            "scene_count=7",
            "narration_wpm_bucket=medium",
            "caption_density_bucket=dense",
            "ending_type=loop",
        ]
    )
    assert X.loc[0, recipe_columns].sum() == 6.0
    assert X.loc[[1, 2], recipe_columns].to_numpy().sum() == 0.0  # manual videos: all-zero recipe one-hots


def test_ridge_prediction_with_unseen_or_missing_values(ridge: RidgeResult) -> None:
    rows = pd.DataFrame(
        {
            "quality_score": [None, float("inf"), 0.5],
            "content_type": ["never_seen", None, "edu"],
            "hook_type": ["mystery", None, "question"],
        }
    )
    predictions = ridge.predict(rows)
    assert predictions.shape == (3,) and np.all(np.isfinite(predictions))
    X = ridge.spec.transform(rows)
    assert X.loc[0, "quality_score"] == ridge.quality_median
    assert X.loc[1, "quality_score"] == ridge.quality_median  # inf is treated as missing
    assert X.loc[0, [n for n in X.columns if n.startswith("content_type=")]].sum() == 0.0  # unseen category
    assert (X.loc[:, ["hour_sin", "hour_cos"]] == 0.0).all().all()  # no hour at all


def test_ridge_bad_values_are_dropped_or_imputed() -> None:
    frame = _ridge_data(200, seed=11)
    frame.loc[0:9, "engagement_rate"] = np.nan
    frame.loc[10:14, "engagement_rate"] = np.inf
    frame.loc[15:19, "published_at"] = pd.NaT
    frame.loc[20:49, "quality_score"] = np.nan
    frame.loc[50:59, "content_type"] = None
    frame.loc[60:69, ["preset", "hook_type", "scene_count"]] = None
    frame["engagement_rate"] = frame["engagement_rate"].astype("object")
    frame.loc[70, "engagement_rate"] = "n/a"
    result = train_ridge(frame)
    assert result.n_dropped == {"with missing or non-finite engagement_rate": 16, "without published_at": 5}
    assert result.n_rows == 200 - 21
    assert "unknown" in result.categories["content_type"]
    assert math.isfinite(result.mae) and all(math.isfinite(v) for v in result.coefficients.values())
    assert np.all(np.isfinite(result.predict(frame)))


def test_ridge_insufficient_data() -> None:
    frame = _ridge_data(25, seed=2)
    frame.loc[0:5, "engagement_rate"] = np.nan
    with pytest.raises(InsufficientDataError) as info:
        train_ridge(frame)
    reason = info.value.reason
    assert "19 usable rows" in reason and "at least 20" in reason
    assert "6 with missing or non-finite engagement_rate" in reason
    assert train_ridge(frame, min_rows=10, cv=3).n_rows == 19
    with pytest.raises(InsufficientDataError, match="only 0 usable rows"):
        train_ridge(pd.DataFrame({"engagement_rate": []}))


# --------------------------------------------------------------------------- logistic


def test_logistic_calibrated_on_well_specified_data() -> None:
    # 40 % holdout = 2,000 rows so the ECE's own sampling noise stays well below 0.05.
    result = train_logistic(_logistic_data(5000), holdout_fraction=0.4)
    assert result.calibration_error <= 0.05
    assert result.roc_auc is not None and result.roc_auc > 0.75
    assert result.log_loss < result.baseline_log_loss
    c = result.coefficients
    assert c["novelty_score"] == pytest.approx(4.0, abs=0.4)
    assert c["expertise_level"] == pytest.approx(3.0, abs=0.4)
    assert c["viral_indicator"] == pytest.approx(2.0, abs=0.4)
    assert result.intercept == pytest.approx(-4.5, abs=0.4)


def test_logistic_defaults_round_trip_and_predict() -> None:
    frame = _logistic_data(1000, seed=4)
    result = train_logistic(frame)
    assert (result.n_train, result.n_holdout) == (800, 200)
    restored = LogisticResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    proba = restored.predict_proba(frame)
    assert proba.shape == (1000,) and np.all((proba > 0) & (proba < 1))
    # Missing features fall back to the stored medians.
    empty_row = restored.predict_proba({"novelty_score": None})
    medians = result.medians
    expected = restored.predict_proba(
        {
            "novelty_score": medians["novelty_score"],
            "expertise_level": medians["expertise_level"],
            "viral_score": 100 * medians["viral_indicator"],
        }
    )
    assert empty_row[0] == pytest.approx(expected[0])


def test_logistic_bad_values() -> None:
    frame = _logistic_data(300, seed=7)
    frame["follow_through"] = frame["follow_through"].astype("object")
    frame.loc[0:9, "follow_through"] = None
    frame.loc[10:11, "follow_through"] = "maybe"
    frame.loc[12:14, "published_at"] = pd.NaT
    frame.loc[20:39, "novelty_score"] = np.nan
    frame.loc[40:49, "viral_score"] = np.inf
    result = train_logistic(frame)
    assert result.n_dropped == {"with unknown follow_through": 12, "without published_at": 3}
    assert result.n_rows == 285
    assert all(math.isfinite(v) for v in result.coefficients.values())
    assert np.all(np.isfinite(result.predict_proba(frame)))


def test_logistic_auc_none_when_holdout_has_one_class() -> None:
    frame = _logistic_data(30, seed=1)
    frame["follow_through"] = [i % 2 == 0 for i in range(24)] + [True] * 6
    result = train_logistic(frame)
    assert result.n_holdout == 6 and result.roc_auc is None
    assert math.isfinite(result.log_loss) and 0.0 <= result.calibration_error <= 1.0


def test_logistic_insufficient_data() -> None:
    frame = _logistic_data(30, seed=1)
    frame["follow_through"] = None
    with pytest.raises(InsufficientDataError, match="30 with unknown follow_through"):
        train_logistic(frame)
    frame["follow_through"] = True
    with pytest.raises(InsufficientDataError, match="only one follow_through class"):
        train_logistic(frame)


def test_expected_calibration_error_by_hand() -> None:
    # Bins 0, 9, 5, 4 each hold one row: gaps 0.05, 0.05, 0.45, 0.45 → mean 0.25.
    assert expected_calibration_error([0, 1, 1, 0], [0.05, 0.95, 0.55, 0.45]) == pytest.approx(0.25)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)  # p = 1 goes to the last bin
