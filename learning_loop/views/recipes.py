"""Read-only views of recipes and the project's overall numbers; they query the warehouse, never change it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from learning_loop.domain.asof import as_of
from learning_loop.domain.ranking import shrunk_reward
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.views.common import plain, records, require_project
from learning_loop.warehouse.backend import Warehouse


def latest_stats_partition(wh: Warehouse, project: str) -> date | None:
    value = wh.scalar("SELECT max(partition_date) FROM recipe_stats WHERE project_id = :p", {"p": project})
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def recipes_view(wh: Warehouse, project: str, limit: int = 20) -> dict[str, Any]:
    """Top recipes from the latest recipe_stats partition, ranked like the planner ranks them
    (shrunk reward, so one lucky video does not top the list), or the registry before any stats."""
    require_project(wh, project)
    partition = latest_stats_partition(wh, project)
    fields = ", ".join(RECIPE_FIELDS)
    if partition is None:
        frame = wh.query_df(
            f"SELECT recipe_hash, {fields}, times_used, first_used_at, last_used_at FROM recipes "
            "WHERE project_id = :p ORDER BY times_used DESC, recipe_hash",
            {"p": project},
        )
        return {"project_id": project, "partition_date": None, "source": "recipes", "recipes": records(frame.head(limit))}
    frame = wh.query_df(
        f"SELECT recipe_hash, {fields}, times_used, scored_videos, avg_reward, best_reward, last_used_at "
        "FROM recipe_stats WHERE project_id = :p AND partition_date = :d "
        "ORDER BY recipe_hash",
        {"p": project, "d": partition},
    )
    frame["score"] = [
        shrunk_reward(int(n), None if pd.isna(avg) else float(avg))
        for n, avg in zip(frame["scored_videos"], frame["avg_reward"])
    ]
    frame = frame.sort_values(["score", "scored_videos", "times_used", "recipe_hash"], ascending=[False, False, False, True])
    return {
        "project_id": project,
        "partition_date": partition.isoformat(),
        "source": "recipe_stats",
        "recipes": records(frame.head(limit)),
    }


def stats_view(wh: Warehouse, project: str) -> dict[str, Any]:
    """Counts and the latest reward numbers of one project."""
    require_project(wh, project)
    p = {"p": project}
    videos = wh.query_df(
        "SELECT count(*) AS videos, count(recipe_hash) AS with_recipe, "
        "min(published_at) AS first_published_at, max(published_at) AS last_published_at "
        "FROM videos WHERE project_id = :p",
        p,
    ).iloc[0]
    snapshots = int(wh.scalar("SELECT count(*) FROM metric_snapshots WHERE project_id = :p", p))
    recipes = int(wh.scalar("SELECT count(*) FROM recipes WHERE project_id = :p", p))
    partition = latest_stats_partition(wh, project)
    latest: dict[str, Any] = {"partition_date": None}
    if partition is not None:
        row = wh.query_df(
            "SELECT count(*) AS scored_videos, avg(reward) AS mean_reward, max(reference_size) AS reference_size, "
            "avg(reward) FILTER (WHERE published_at >= :w1) AS last_7d, "
            "avg(reward) FILTER (WHERE published_at < :w1 AND published_at >= :w2) AS prior_7d "
            "FROM percentile_rewards WHERE project_id = :p AND partition_date = :d",
            {**p, "d": partition, "w1": as_of(partition) - timedelta(days=7), "w2": as_of(partition) - timedelta(days=14)},
        ).iloc[0]
        ranked = recipes_view(wh, project, limit=1)["recipes"]
        latest = {
            "partition_date": partition.isoformat(),
            "scored_videos": int(row["scored_videos"]),
            # mid-rank percentiles average 0.5 over the whole window by construction; what moves is
            # the last 7 days' videos against the 7 days before
            "mean_reward": plain(row["mean_reward"]),
            "mean_reward_last_7d": plain(row["last_7d"]),
            "mean_reward_prior_7d": plain(row["prior_7d"]),
            # the same ranking as `recipes` and the planner (shrunk reward)
            "top_recipe": ranked[0] if ranked else None,
        }
    ledger = wh.query_df(
        "SELECT status, count(*) AS files, coalesce(sum(rows_loaded), 0) AS rows_loaded, "
        "coalesce(sum(rows_quarantined), 0) AS rows_quarantined FROM ingested_files GROUP BY status"
    )
    return {
        "project_id": project,
        "videos": int(videos["videos"]),
        "videos_with_recipe": int(videos["with_recipe"]),
        "manual_videos": int(videos["videos"]) - int(videos["with_recipe"]),
        "first_published_at": plain(videos["first_published_at"]),
        "last_published_at": plain(videos["last_published_at"]),
        "metric_snapshots": snapshots,
        "recipes": recipes,
        "latest": latest,
        # sums come back as DOUBLE/HUGEINT (DuckDB) or NUMERIC (PostgreSQL): report plain integers
        "ingestion": {r["status"]: {k: int(v) for k, v in r.items() if k != "status"} for r in records(ledger)},
    }


def data_date_range(wh: Warehouse, project: str | None = None) -> tuple[date, date] | None:
    """First and last day with a published video or a snapshot (optionally for one project)."""
    where = "WHERE project_id = :p" if project else ""
    params = {"p": project} if project else {}
    frame = wh.query_df(
        f"SELECT min(published_at) AS lo, max(published_at) AS hi FROM videos {where} "
        f"UNION ALL SELECT min(observed_at), max(observed_at) FROM metric_snapshots {where}",
        params,
    )
    lo, hi = frame["lo"].dropna(), frame["hi"].dropna()
    if lo.empty:
        return None
    return pd.Timestamp(lo.min()).date(), pd.Timestamp(hi.max()).date()
