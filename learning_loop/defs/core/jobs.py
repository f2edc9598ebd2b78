"""The daily stats job (every daily-partitioned asset), its 02:00 UTC schedule and the recipe backfill."""

import dagster as dg

from learning_loop.orchestration.partitions import DAILY_TAG_KEY, DAILY_TAG_VALUE
from learning_loop.orchestration.retries import WAREHOUSE_RETRY

update_stats_job = dg.define_asset_job(
    "update_stats",
    selection=dg.AssetSelection.tag(DAILY_TAG_KEY, DAILY_TAG_VALUE),
    description="Every daily asset (tagged learning_loop/cadence=daily): outcomes, rewards, recipe stats, "
    "verdicts, bandit arms and predictors for daily partitions.",
    op_retry_policy=WAREHOUSE_RETRY,
)

backfill_recipes_job = dg.define_asset_job(
    "backfill_recipes",
    selection=dg.AssetSelection.assets("recipes"),
    description="Register every recipe seen in the videos (runbook: backfill recipes).",
)

daily_update_stats_schedule = dg.build_schedule_from_partitioned_job(
    update_stats_job,
    hour_of_day=2,
    minute_of_hour=0,
    name="update_stats_daily_0200_utc",
    description="Every day at 02:00 UTC, materialise yesterday's partition.",
)

