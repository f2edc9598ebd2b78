"""Read-only CLI views of the learnt models (issue 4): ``arms`` and ``predictors``.

``learning-loop arms --project P [--json]``: the arms of the project's latest
``bandit_arms`` partition, content arms then timing arms by hour.

``learning-loop predictors --project P [--limit N] [--json]``: the predictor
versions of the project, newest partition first, and which version of each
model is latest (newest ``trained`` one).

Both query the warehouse only; an unknown project exits with status 2.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any, Callable

import pandas as pd

from learning_loop.warehouse.backend import Warehouse

ARM_FIELDS = ("arm_type", "arm", "hour", "pulls", "successes", "failures", "alpha", "beta", "mean", "posterior_sd", "ucb1")
TOP_COEFFICIENTS = 6  # largest |weight| shown per version in text output
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
    from learning_loop.views import _records, require_project

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
    head = _records(frame.head(1))[0]
    arms = _records(frame.loc[:, list(ARM_FIELDS)])
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
    from learning_loop.model_store import MODELS, latest_predictor_versions
    from learning_loop.views import _records, require_project

    require_project(wh, project)
    frame = wh.query_df(
        "SELECT " + ", ".join(VERSION_FIELDS) + " FROM predictor_coefficients WHERE project_id = :p "
        "AND partition_date IN (SELECT DISTINCT partition_date FROM predictor_coefficients WHERE project_id = :p "
        "ORDER BY partition_date DESC LIMIT :limit) ORDER BY partition_date DESC, model",
        {"p": project, "limit": int(limit)},
    )
    frame["partition_date"] = _iso_dates(frame["partition_date"])
    versions = _records(frame)
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


# --------------------------------------------------------------------------- rendering


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_arms(p: dict[str, Any]) -> str:
    if p["partition_date"] is None:
        return (f"no bandit arms for {p['project_id']} yet: run `learning-loop update-stats --date D` "
                "or `learning-loop backfill`")
    lines = [
        f"bandit arms of {p['project_id']} as of partition {p['partition_date']} "
        f"(window {p['window_days']} days, success = engagement_rate > {p['success_threshold']})",
        f"{'arm':<28} {'pulls':>5} {'succ':>5} {'mean':>6} {'sd':>6} {'ucb1':>6}",
    ]
    for arm in p["arms"]:
        ucb1 = "untried" if arm["arm_type"] == "timing" and arm["untried"] else _fmt(arm["ucb1"])
        lines.append(
            f"{arm['arm']:<28} {arm['pulls']:>5} {arm['successes']:>5} {_fmt(arm['mean']):>6} "
            f"{_fmt(arm['posterior_sd']):>6} {ucb1:>6}"
        )
    return "\n".join(lines)


def render_predictors(p: dict[str, Any]) -> str:
    if not p["versions"]:
        return (f"no predictor versions for {p['project_id']} yet: run `learning-loop update-stats --date D` "
                "or `learning-loop backfill`")
    lines = [f"predictor versions of {p['project_id']}"]
    for model in p["models"]:
        lines.append(f"  latest {model}: {p['latest'].get(model) or 'none trained yet'}")
    for v in p["versions"]:
        if v["status"] != "trained":
            lines.append(f"{v['partition_date']} {v['model']:<24} skipped: {v['skip_reason']}")
            continue
        if v["model"].startswith("ridge"):
            quality = f"r2={_fmt(v['r2'])} mae={_fmt(v['mae'], 4)} (mean predictor mae={_fmt(v['baseline_mae'], 4)})"
        else:
            quality = (f"log_loss={_fmt(v['log_loss'])} auc={_fmt(v['auc'])} "
                       f"calibration_error={_fmt(v['calibration_error'])}")
        weights = sorted((v["coefficients"] or {}).items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        coefs = ", ".join(f"{k}={c:.3g}" for k, c in weights[:TOP_COEFFICIENTS])
        more = f" (+{len(weights) - TOP_COEFFICIENTS} more; --json lists all)" if len(weights) > TOP_COEFFICIENTS else ""
        lines.append(f"{v['partition_date']} {v['model']:<24} n_train={v['n_train']} {quality}")
        lines.append(f"{'':<11}intercept={_fmt(v['intercept'], 4)} {coefs}{more}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- commands


def cmd_arms(args: argparse.Namespace) -> int:
    from learning_loop.cli import _emit, _warehouse

    _emit(args, arms_view(_warehouse(), args.project), render_arms)
    return 0


def cmd_predictors(args: argparse.Namespace) -> int:
    from learning_loop.cli import BadInput, _emit, _warehouse

    if args.limit < 1:
        raise BadInput(f"--limit must be at least 1, got {args.limit}")
    _emit(args, predictors_view(_warehouse(), args.project, limit=args.limit), render_predictors)
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``arms`` and ``predictors`` commands with ``cli.build_parser``'s ``add`` helper."""
    p = add("arms", cmd_arms, "bandit arms (content types and posting hours) of a project's latest partition")
    p.add_argument("--project", required=True)
    p = add("predictors", cmd_predictors, "predictor versions (ridge engagement rate, logistic follow-through) of a project")
    p.add_argument("--project", required=True)
    p.add_argument("--limit", type=int, default=20, help="newest partitions to list (default 20)")
