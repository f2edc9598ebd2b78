"""Jobs, schedules and the landing sensor (runbook: hourly ingestion, stats at 02:00 UTC)."""


import json

import dagster as dg

from learning_loop.defs.ingestion import INGESTED, landing_fingerprint

DAILY_ASSETS = (
    "outcomes",
    "percentile_rewards",
    "recipe_stats",
    "experiment_verdicts",
    "bandit_arms",
    "predictor_coefficients",
)

ingest_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(*INGESTED, "recipes", "batch_completion"),
    description="Load new landing files, then refresh the recipe registry and batch completion.",
)

update_stats_job = dg.define_asset_job(
    "update_stats",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS),
    description="Outcomes, percentile rewards and recipe stats for daily partitions.",
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

hourly_ingest_schedule = dg.ScheduleDefinition(
    name="ingest_hourly",
    job=ingest_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    description="Hourly metric ingestion (runbook step 5).",
)


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, description="Launch ingestion when landing files appear or change.")
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    fingerprint, count = landing_fingerprint()
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("fingerprint") == fingerprint:
        return dg.SkipReason(f"no new or changed landing files ({count} files seen)")
    cursor = json.dumps({"fingerprint": fingerprint, "files": count})
    if count == 0:
        return dg.SensorResult(skip_reason=dg.SkipReason("landing zone is empty"), cursor=cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=fingerprint, tags={"learning_loop/landing_files": str(count)})],
        cursor=cursor,
    )


JOBS = [ingest_job, update_stats_job, backfill_recipes_job]
SCHEDULES = [daily_update_stats_schedule, hourly_ingest_schedule]
SENSORS = [landing_sensor]
