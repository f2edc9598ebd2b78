"""Runbook alerts on planning (WARN checks): empty batches, experiment backlog, falling reward."""

import json
from datetime import timedelta

import dagster as dg
import pandas as pd

from learning_loop.domain.asof import as_of
from learning_loop.orchestration.partitions import WAREHOUSE_POOL
from learning_loop.orchestration.resources import WarehouseResource

class AlertConfig(dg.Config):
    max_running_experiments: int = 20


@dg.asset_check(asset="planned_batches", description="WARN: the latest batch created zero jobs.", pool=WAREHOUSE_POOL)
def latest_batch_created_jobs(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(
        "SELECT batch_id, project_id, planned, requested FROM planned_batches ORDER BY created_at DESC LIMIT 1"
    )
    if frame.empty:
        return dg.AssetCheckResult(passed=True, metadata={"batches": 0})
    row = frame.iloc[0]
    return dg.AssetCheckResult(
        passed=int(row["planned"]) > 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"batch_id": str(row["batch_id"]), "planned": int(row["planned"]), "requested": int(row["requested"])},
    )


@dg.asset_check(asset="experiments", description="WARN: running experiments above the backlog limit.", pool=WAREHOUSE_POOL)
def experiment_backlog(config: AlertConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(
        "SELECT project_id, count(*) AS running FROM experiments WHERE status = 'running' GROUP BY project_id"
    )
    worst = int(frame["running"].max()) if not frame.empty else 0
    return dg.AssetCheckResult(
        passed=worst <= config.max_running_experiments,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "max_running_per_project": float(worst),
            "limit": config.max_running_experiments,
            "by_project": dg.MetadataValue.json(json.loads(frame.to_json(orient="records"))),
        },
    )


@dg.asset_check(
    asset="percentile_rewards",
    description="WARN: mean reward of the last 7 days' videos fell below the 7 days before (latest partition).",
    pool=WAREHOUSE_POOL,
)
def mean_reward_week_over_week(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = _week_over_week(warehouse.get())
    falling = frame[(frame["last_7d"].notna()) & (frame["prior_7d"].notna()) & (frame["last_7d"] < frame["prior_7d"])]
    return dg.AssetCheckResult(
        passed=falling.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "projects_falling": len(falling),
            "by_project": dg.MetadataValue.json(json.loads(frame.to_json(orient="records"))),
        },
    )


def _week_over_week(wh) -> pd.DataFrame:
    """Per project: mean reward of videos published in the last 7 days before T vs the 7 days before."""
    latest = wh.scalar("SELECT max(partition_date) FROM percentile_rewards")
    if latest is None or pd.isna(latest):
        return pd.DataFrame(columns=["project_id", "last_7d", "prior_7d"])
    day = pd.Timestamp(latest).date()
    t = as_of(day)
    return wh.query_df(
        "SELECT project_id, "
        "avg(reward) FILTER (WHERE published_at >= :w1) AS last_7d, "
        "avg(reward) FILTER (WHERE published_at < :w1 AND published_at >= :w2) AS prior_7d "
        "FROM percentile_rewards WHERE partition_date = :d GROUP BY project_id ORDER BY project_id",
        {"d": day, "w1": t - timedelta(days=7), "w2": t - timedelta(days=14)},
    )
