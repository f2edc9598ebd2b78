"""experiment_verdicts through Dagster on both backends: gating, decisions, frozen rules, 28 days."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from learning_loop.defs.experiments.verdicts import experiment_verdicts
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.domain.recipe import recipe_hash
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, load, materialize_daily, snap, video

P = "ab"
START = datetime(2024, 1, 2)


def add_experiment(wh, experiment_id="exp_1", started=START, level=0.95, min_n=5, max_days=28):
    with wh.transaction() as tx:
        tx.insert_df(
            "experiments",
            pd.DataFrame([{
                "experiment_id": experiment_id, "project_id": P, "variable_tested": "hook_type",
                "baseline_value": "question", "variant_value": "mystery",
                "baseline_recipe_hash": recipe_hash(RECIPE_A), "variant_recipe_hash": recipe_hash(RECIPE_B),
                "status": "running", "started_at": started, "level": level, "min_n_per_arm": min_n,
                "max_duration_days": max_days,
            }]),
        )


def add_arms(wh, n: int, variant_better: bool = True, start: datetime = START, prefix: str = "") -> None:
    videos, snaps = [], []
    for i in range(n):
        for arm, recipe in (("b", RECIPE_A), ("v", RECIPE_B)):
            good = (arm == "v") == variant_better
            pub = start + timedelta(hours=3 * i + (1 if arm == "v" else 0))
            vid = f"{prefix}{arm}{i}"
            videos.append(video(P, vid, pub, recipe=recipe))
            base = 1000 if good else 100
            snaps.append(snap(P, vid, pub + timedelta(hours=6), base + i, likes=(base + i) // 10, avd=(30.0 if good else 5.0) + i / 100))
    load(wh, videos, snaps)


def verdicts(wh, url: str, partition: str) -> pd.DataFrame:
    materialize_daily(url, partition)
    dg.materialize([experiment_verdicts], partition_key=partition, resources={"warehouse": WarehouseResource(url=url)},
                   instance=dg.DagsterInstance.ephemeral())
    return wh.query_df("SELECT * FROM experiment_verdicts WHERE partition_date = :d", {"d": pd.Timestamp(partition).date()})


def test_no_verdict_before_min_n(warehouse, warehouse_url):
    add_experiment(warehouse)
    add_arms(warehouse, 3)
    row = verdicts(warehouse, warehouse_url, "2024-01-05").iloc[0]
    assert (row["n_baseline"], row["n_variant"]) == (3, 3)
    assert (row["status"], row["winner"], row["decided_reason"]) == ("running", "inconclusive", "insufficient_data")
    assert row["variant_mean"] > row["baseline_mean"]


def test_clear_effect_completes_and_never_changes(warehouse, warehouse_url):
    add_experiment(warehouse)
    add_arms(warehouse, 12)
    row = verdicts(warehouse, warehouse_url, "2024-01-05").iloc[0]
    assert (row["status"], row["winner"]) == ("completed", "variant")
    assert row["ci_low"] > 0 and row["effect"] == pytest.approx(row["variant_mean"] - row["baseline_mean"])
    exp = warehouse.query_df("SELECT status, winner, completed_at FROM experiments").iloc[0]
    assert (exp["status"], exp["winner"]) == ("completed", "variant")
    # later the data turns around: the completed verdict does not change
    add_arms(warehouse, 30, variant_better=False, start=datetime(2024, 1, 6), prefix="late")
    later = verdicts(warehouse, warehouse_url, "2024-01-12").iloc[0]
    assert (later["status"], later["winner"], later["n_baseline"]) == ("completed", "variant", row["n_baseline"])
    assert warehouse.query_df("SELECT winner, completed_at FROM experiments").iloc[0]["completed_at"] == exp["completed_at"]


def test_frozen_rules_are_used(warehouse, warehouse_url, monkeypatch):
    monkeypatch.setenv("AB_TEST_SIGNIFICANCE_LEVEL", "0.5")  # changing the env later changes nothing
    add_experiment(warehouse, min_n=20)
    add_arms(warehouse, 12)
    row = verdicts(warehouse, warehouse_url, "2024-01-05").iloc[0]
    assert (row["status"], row["decided_reason"], row["level"]) == ("running", "insufficient_data", 0.95)


def test_undecided_after_max_duration_is_inconclusive(warehouse, warehouse_url):
    add_experiment(warehouse, started=datetime(2024, 1, 1))
    videos, snaps = [], []
    for i in range(6):
        for arm, recipe in (("b", RECIPE_A), ("v", RECIPE_B)):
            pub = datetime(2024, 1, 20) + timedelta(hours=2 * i + (arm == "v"))
            videos.append(video(P, f"{arm}{i}", pub, recipe=recipe))
            snaps.append(snap(P, f"{arm}{i}", pub + timedelta(hours=6), 100 + (i * 37) % 11, avd=10 + (i * 13) % 7))
    load(warehouse, videos, snaps)
    day27 = verdicts(warehouse, warehouse_url, "2024-01-27").iloc[0]  # T = Jan 28: 27 days
    assert day27["status"] == "running"
    day28 = verdicts(warehouse, warehouse_url, "2024-01-28").iloc[0]  # T = Jan 29: 28 days
    assert (day28["status"], day28["winner"], day28["decided_reason"]) == ("completed", "inconclusive", "max_duration")
