"""The predictor_coefficients asset: versions, skips, point-in-time, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import functools
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from learning_loop.defs.predictors.coefficients import predictor_coefficients
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.defs.core.sql_assets import sql_assets
from learning_loop.domain.predictors import LogisticResult, RidgeResult
from learning_loop.stores.models import latest_predictor_versions, latest_predictors
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, load, snap, table, video

D1 = "2024-01-10"  # T = 2024-01-11; 30-day window holds all 30 videos of p1
D2 = "2024-02-05"  # T = 2024-02-06; window [2024-01-07, 2024-02-06) holds 12 of them: too few
P, Q = "p1", "q1"
ORDER = "project_id, model"


#: a small hyper-parameter grid where the defaults are not under test (keeps the tests fast)
SMALL_GRID = {"ops": {"predictor_coefficients": {"config": {"ridge_alphas": [0.1, 10.0], "ridge_cv": 2}}}}


OUTCOMES = next(a for a in sql_assets() if a.key.to_user_string() == "outcomes")


@functools.cache
def _instance() -> dg.DagsterInstance:
    """One ephemeral instance for the module (creating one costs most of a small run)."""
    return dg.DagsterInstance.ephemeral()


def run(url: str, partition: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [OUTCOMES, predictor_coefficients],
        partition_key=partition,
        resources={"warehouse": WarehouseResource(url=url)},
        instance=_instance(),
        run_config=run_config,
    )
    assert result.success
    return result


def world() -> tuple[list[dict], list[dict]]:
    """30 mature videos of p1 (3 a day, 2024-01-01 .. 01-10) with some missing features; 5 of q1."""
    videos, snapshots = [], []
    for i in range(30):
        published = datetime(2024, 1, 1 + i // 3, 6 + 5 * (i % 3))
        quality = None if i % 7 == 0 else round(0.3 + 0.02 * i, 3)  # missing quality: the median
        content = None if i % 5 == 0 else ("educational" if i % 2 else "factual")  # missing type: "unknown"
        recipe = None if i % 11 == 0 else (RECIPE_A if i % 2 else RECIPE_B)  # manual videos: no recipe
        extra = {"novelty_score": None if i % 6 == 0 else 0.1 + 0.025 * i, "expertise_level": 0.5,
                 "viral_score": 10.0 + 2 * i}
        videos.append(video(P, f"v{i:02d}", published, recipe=recipe, content_type=content,
                            quality_score=quality, **extra))
        likes = 20 + int(60 * (quality or 0.6)) + (i % 4)
        snapshots.append(snap(P, f"v{i:02d}", published + timedelta(hours=6), 1000, likes=likes,
                              followers=1 if i % 3 == 0 else 0))
    for i in range(5):
        published = datetime(2024, 1, 5 + i, 12)
        videos.append(video(Q, f"q{i}", published, content_type="factual", quality_score=0.5))
        snapshots.append(snap(Q, f"q{i}", published + timedelta(hours=7), 100, likes=i, followers=i % 2))
    return videos, snapshots


def by_key(frame: pd.DataFrame) -> dict[tuple[str, str], dict]:
    return {(r["project_id"], r["model"]): r for r in frame.to_dict("records")}


def test_versions_skips_and_latest(warehouse, warehouse_url):
    load(warehouse, *world())
    result = run(warehouse_url, D1)
    rows = by_key(table(warehouse, "predictor_coefficients", D1, order=ORDER))
    assert set(rows) == {(p, m) for p in (P, Q) for m in ("logistic_follow_through", "ridge_engagement_rate")}

    ridge = rows[(P, "ridge_engagement_rate")]
    assert ridge["status"] == "trained" and pd.isna(ridge["skip_reason"])
    assert ridge["version_id"] == f"ridge_engagement_rate:{P}:{D1}"
    assert ridge["n_train"] + ridge["n_holdout"] == 30 and ridge["n_holdout"] == 6
    assert pd.notna(ridge["r2"]) and ridge["mae"] >= 0 and pd.notna(ridge["trained_at"])
    coefficients = json.loads(ridge["coefficients"])
    assert {"quality_score", "hour_sin", "hour_cos", "content_type=unknown", "hook_type=mystery"} <= set(coefficients)
    hyper = json.loads(ridge["hyperparameters"])
    assert hyper["window_days"] == 30 and hyper["min_rows"] == 20 and hyper["alpha"] in hyper["alphas"]
    model = RidgeResult.from_dict(json.loads(ridge["model_json"]))
    assert model.n_rows == 30 and model.intercept == pytest.approx(ridge["intercept"])

    logistic = rows[(P, "logistic_follow_through")]
    assert logistic["status"] == "trained" and logistic["n_train"] == 24
    assert 0 <= logistic["calibration_error"] <= 1 and logistic["log_loss"] > 0 and pd.notna(logistic["auc"])
    assert set(json.loads(logistic["coefficients"])) == {"novelty_score", "expertise_level", "viral_indicator"}

    for model_name in ("ridge_engagement_rate", "logistic_follow_through"):  # 5 rows in q1: too little data
        skipped = rows[(Q, model_name)]
        assert skipped["status"] == "skipped" and "only 5 usable rows" in skipped["skip_reason"]
        assert pd.isna(skipped["model_json"]) and json.loads(skipped["hyperparameters"])["min_rows"] == 20

    meta = result.asset_materializations_for_node("predictor_coefficients")[0].metadata
    assert (meta["trained"].value, meta["skipped"].value) == (2.0, 2.0)
    assert meta["ridge_heldout_r2"].value == pytest.approx(ridge["r2"])
    assert meta["logistic_heldout_auc"].value == pytest.approx(logistic["auc"])
    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey("predictor_coefficients")]
    assert len(checks) == 1 and checks[0].passed

    # a later partition with too little data in its window records a skip; D1's versions stay latest
    run(warehouse_url, D2, SMALL_GRID)
    later = by_key(table(warehouse, "predictor_coefficients", D2, order=ORDER))
    assert later[(P, "ridge_engagement_rate")]["status"] == "skipped"
    assert "only 12 usable rows" in later[(P, "ridge_engagement_rate")]["skip_reason"]
    latest = latest_predictor_versions(warehouse, P, datetime(2024, 2, 6))
    assert latest["ridge_engagement_rate"]["version_id"] == f"ridge_engagement_rate:{P}:{D1}"
    assert latest["logistic_follow_through"]["version_id"] == f"logistic_follow_through:{P}:{D1}"
    models = latest_predictors(warehouse, P, datetime(2024, 2, 6))
    assert isinstance(models["ridge_engagement_rate"], RidgeResult)
    assert isinstance(models["logistic_follow_through"], LogisticResult)
    assert latest_predictors(warehouse, Q, datetime(2024, 2, 6)) == {
        "ridge_engagement_rate": None, "logistic_follow_through": None
    }
    # as of a moment before D1's T, nothing was trained yet
    assert latest_predictors(warehouse, P, datetime(2024, 1, 10, 23, 59))["ridge_engagement_rate"] is None


def test_point_in_time_rematerialisation(warehouse, warehouse_url):
    videos, snapshots = world()
    load(warehouse, videos, snapshots)
    run(warehouse_url, D1, SMALL_GRID)
    before = table(warehouse, "predictor_coefficients", D1, order=ORDER).drop(columns=["trained_at"])
    t = datetime(2024, 1, 11)
    load(
        warehouse,
        videos=[video(P, f"late{i}", t + timedelta(hours=i), content_type="story", quality_score=0.9) for i in range(3)],
        snapshots=[snap(P, f"late{i}", t + timedelta(hours=i + 7), 10, likes=9, followers=5) for i in range(3)]
        + [snap(P, v["video_id"], t + timedelta(hours=1), 5000, likes=4000, followers=50) for v in videos[:10]],
    )
    run(warehouse_url, D1, SMALL_GRID)
    after = table(warehouse, "predictor_coefficients", D1, order=ORDER).drop(columns=["trained_at"])
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_one_fit_step_per_project_gives_the_single_process_rows(warehouse, warehouse_url):
    """A run of 7 partitions with two projects (q1 only in the later ones) fits in one step per project,
    and writes exactly the rows the single-process path (`build_versions` over every project) writes."""
    from datetime import date

    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from learning_loop.defs.predictors.coefficients import (
        PredictorConfig,
        build_versions,
        read_training_rows,
        write_partition,
    )

    load(warehouse, *world())
    first, last = "2024-01-04", D1
    result = dg.materialize(
        [OUTCOMES, predictor_coefficients],
        resources={"warehouse": WarehouseResource(url=warehouse_url)},
        instance=_instance(),
        run_config=SMALL_GRID,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
    )
    assert result.success
    succeeded = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    fits = {k for k in succeeded if k.startswith("predictor_coefficients.fit_project_predictors[")}
    assert fits == {"predictor_coefficients.fit_project_predictors[p1]",
                    "predictor_coefficients.fit_project_predictors[q1]"}
    assert {"predictor_coefficients.predictor_projects", "predictor_coefficients.write_predictor_coefficients"} <= succeeded
    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey("predictor_coefficients")]
    assert len(checks) == 1 and checks[0].passed

    days = [date(2024, 1, d) for d in range(4, 11)]
    fanned = {d: table(warehouse, "predictor_coefficients", d.isoformat(), order=ORDER) for d in days}
    assert {p for d in days for p in fanned[d]["project_id"]} == {P, Q}
    assert Q not in set(fanned[days[0]]["project_id"]) and Q in set(fanned[days[-1]]["project_id"])
    assert (fanned[days[-1]]["status"] == "trained").any()

    # the single-process path on the same data, written the same way, gives the same rows
    config = PredictorConfig(**SMALL_GRID["ops"]["predictor_coefficients"]["config"])
    for day in days:
        with warehouse.transaction() as tx:
            rows, projects = read_training_rows(tx, day, config.window_days)
        versions = build_versions(rows, projects, day, config, datetime(2024, 1, 1))
        with warehouse.transaction() as tx:
            write_partition(tx, day, versions)
        single = table(warehouse, "predictor_coefficients", day.isoformat(), order=ORDER)
        pd.testing.assert_frame_equal(fanned[day].drop(columns=["trained_at"]), single.drop(columns=["trained_at"]),
                                      check_exact=True)


def test_fit_step_keys_are_distinct_identifiers():
    from learning_loop.defs.predictors.coefficients import mapping_keys

    assert mapping_keys(["dark-anime-shorts", "dark_anime_shorts", "", "p1"]) == {
        "dark-anime-shorts": "dark_anime_shorts", "dark_anime_shorts": "dark_anime_shorts_2", "": "project", "p1": "p1"
    }
