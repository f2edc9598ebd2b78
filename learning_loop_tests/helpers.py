"""Test helpers: write hand-made rows straight into the warehouse, run the daily models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import dagster as dg
import pandas as pd

from learning_loop.orchestration.resources import WarehouseResource, resources_for
from learning_loop.settings import Settings
from learning_loop.defs.core.sql_assets import sql_assets
from learning_loop.domain.recipe import recipe_hash, topic_hash
from learning_loop.warehouse.backend import Warehouse

RECIPE_A = {
    "preset": "DARK_DYSTOPIAN_ANIME",
    "hook_type": "question",
    "scene_count": 7,
    "narration_wpm_bucket": "medium",
    "caption_density_bucket": "medium",
    "ending_type": "cliffhanger",
}
RECIPE_B = {**RECIPE_A, "hook_type": "mystery"}


def video(project: str, video_id: str, published_at: datetime, recipe: dict | None = RECIPE_A, **extra) -> dict:
    row = {
        "project_id": project,
        "video_id": video_id,
        "published_at": published_at,
        "topic": f"topic of {video_id}",
        "topic_hash": topic_hash(f"topic of {video_id}"),
        "source_file": "test",
        "source_row": 1,
        "loaded_at": datetime(2030, 1, 1),
        **extra,
    }
    if recipe:
        row.update(recipe)
        row["recipe_hash"] = recipe_hash(recipe)
    return row


def snap(project: str, video_id: str, observed_at: datetime, views: int, likes: int = 0, comments: int = 0,
         avd: float = 10.0, followers: int | None = None) -> dict:
    return {
        "project_id": project,
        "video_id": video_id,
        "observed_at": observed_at,
        "views": views,
        "likes": likes,
        "comments": comments,
        "avg_view_duration_s": avd,
        "followers_gained": followers,
        "source_file": "test",
        "source_row": 1,
        "loaded_at": datetime(2030, 1, 1),
    }


def load(wh: Warehouse, videos: Sequence[dict] = (), snapshots: Sequence[dict] = ()) -> None:
    with wh.transaction() as tx:
        tx.insert_df("videos", pd.DataFrame(list(videos)))
        tx.insert_df("metric_snapshots", pd.DataFrame(list(snapshots)))


DAILY = ("outcomes", "percentile_rewards", "recipe_stats")


def materialize_daily(url: str, partition: str, instance: dg.DagsterInstance | None = None,
                      run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    assets = [a for a in sql_assets() if a.key.to_user_string() in DAILY]
    result = dg.materialize(
        assets,
        partition_key=partition,
        resources={"warehouse": WarehouseResource(url=url)},
        instance=instance or dg.DagsterInstance.ephemeral(),
        run_config=run_config,
    )
    assert result.success
    return result


def table(wh: Warehouse, name: str, partition: str | None = None, order: str = "project_id, video_id") -> pd.DataFrame:
    where = "WHERE partition_date = :d" if partition else ""
    params = {"d": date.fromisoformat(partition)} if partition else None
    frame = wh.query_df(f"SELECT * FROM {name} {where} ORDER BY {order}", params)
    return frame.reset_index(drop=True)


def env_resources() -> dict:
    """The resources a CLI run would get from the current environment (the test's runtime fixture)."""
    return resources_for(Settings.from_env())
