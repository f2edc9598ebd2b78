"""Read-only views of the learnt models (issue 4): bandit arms and predictor versions.

``learning-loop arms --project P [--json]``: the arms of the project's latest
``bandit_arms`` partition, content arms then timing arms by hour.

``learning-loop predictors --project P [--limit N] [--json]``: the predictor
versions of the project, newest partition first, and which version of each
model is latest (newest ``trained`` one).

Both query the warehouse only; an unknown project exits with status 2.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from learning_loop.stores.models import MODELS, latest_predictor_versions
from learning_loop.views.common import records, require_project
from learning_loop.warehouse.backend import Warehouse

ARM_FIELDS = ("arm_type", "arm", "hour", "pulls", "successes", "failures", "alpha", "beta", "mean", "posterior_sd", "ucb1")
VERSION_FIELDS = (
    "partition_date", "model", "version_id", "status", "skip_reason", "trained_at", "n_train", "n_holdout",
    "r2", "mae", "baseline_mae", "log_loss", "auc", "calibration_error", "intercept", "hyperparameters", "coefficients",
)


# --------------------------------------------------------------------------- views (pure reads)


def _iso_dates(values: pd.Series) -> pd.Series:
    """DATE values as YYYY-MM-DD (DuckDB hands them back as timestamps, PostgreSQL as dates)."""
    return pd.Series([None if pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in values],
                     index=values.index, dtype=object)


def arms_view(wh: Warehouse, project: str) -> dict[str, Any]:
    """The latest bandit_arms partition of a project (``partition_date`` None when there is none)."""
    require_project(wh, project)
    frame = wh.query_df(
        "SELECT partition_date, window_days, success_threshold, "
        + ", ".join(ARM_FIELDS)
        + " FROM bandit_arms WHERE project_id = :p AND partition_date = ("
        "SELECT max(partition_date) FROM bandit_arms WHERE project_id = :p) "
        "ORDER BY CASE arm_type WHEN 'content' THEN 0 ELSE 1 END, hour, arm",
        {"p": project},
    )
    if frame.empty:
        return {"project_id": project, "partition_date": None, "window_days": None, "success_threshold": None,
                "arms": []}
    frame["partition_date"] = _iso_dates(frame["partition_date"])
    head = records(frame.head(1))[0]
    arms = records(frame.loc[:, list(ARM_FIELDS)])
    for arm in arms:
        arm["untried"] = arm["pulls"] == 0  # an untried timing arm's UCB1 is +inf, shown as null
    return {
        "project_id": project,
        "partition_date": head["partition_date"],
        "window_days": head["window_days"],
        "success_threshold": head["success_threshold"],
        "arms": arms,
    }


def predictors_view(wh: Warehouse, project: str, limit: int = 20) -> dict[str, Any]:
    """Predictor versions of a project, newest first (at most ``limit`` partitions), and the latest trained ones."""
    require_project(wh, project)
    frame = wh.query_df(
        "SELECT " + ", ".join(VERSION_FIELDS) + " FROM predictor_coefficients WHERE project_id = :p "
        "AND partition_date IN (SELECT DISTINCT partition_date FROM predictor_coefficients WHERE project_id = :p "
        "ORDER BY partition_date DESC LIMIT :limit) ORDER BY partition_date DESC, model",
        {"p": project, "limit": int(limit)},
    )
    frame["partition_date"] = _iso_dates(frame["partition_date"])
    versions = records(frame)
    for version in versions:
        for key in ("hyperparameters", "coefficients"):
            version[key] = json.loads(version[key]) if version[key] else None
    latest = latest_predictor_versions(wh, project, datetime.now(timezone.utc))
    return {
        "project_id": project,
        "latest": {model: (row["version_id"] if row else None) for model, row in latest.items()},
        "models": list(MODELS),
        "versions": versions,
    }
