"""The ingestion job, its hourly schedule and the landing sensor (runbook: hourly metric ingestion)."""


import json

import dagster as dg

from learning_loop.defs.ingestion.assets import INGESTED, landing_fingerprint
from learning_loop.orchestration.resources import RuntimeResource

ingest_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(*INGESTED, "recipes", "batch_completion"),
    description="Load new landing files, then refresh the recipe registry and batch completion.",
)

hourly_ingest_schedule = dg.ScheduleDefinition(
    name="ingest_hourly",
    job=ingest_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    description="Hourly metric ingestion (runbook step 5).",
)


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, description="Launch ingestion when landing files appear or change.")
def landing_sensor(context: dg.SensorEvaluationContext, runtime: RuntimeResource) -> dg.SensorResult | dg.SkipReason:
    fingerprint, count = landing_fingerprint(runtime.landing_dir())
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


