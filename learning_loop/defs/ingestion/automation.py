"""The ingestion job, its hourly schedule and the landing sensor (runbook: hourly metric ingestion)."""


import json

import dagster as dg

from learning_loop.defs.ingestion.assets import INGESTED, landing_fingerprint
from learning_loop.orchestration.resources import RuntimeResource
from learning_loop.orchestration.retries import WAREHOUSE_RETRY

ingest_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(*INGESTED, "recipes", "batch_completion"),
    description="Load new landing files, then refresh the recipe registry and batch completion.",
    op_retry_policy=WAREHOUSE_RETRY,
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
    """Files count once their size and mtime have been unchanged for `runtime.landing_settle_s`
    seconds (`LEARNING_LOOP_LANDING_SETTLE_SECONDS`): a file still being written is left out of the
    fingerprint, so no run is requested for it until it has settled."""
    fingerprint, count, fresh = landing_fingerprint(runtime.landing_dir(), settle_s=runtime.landing_settle_s)
    previous = json.loads(context.cursor) if context.cursor else {}
    waiting = f"; {fresh} still being written" if fresh else ""
    if previous.get("fingerprint") == fingerprint:
        return dg.SkipReason(f"no new or changed landing files ({count} files seen{waiting})")
    cursor = json.dumps({"fingerprint": fingerprint, "files": count})
    if count == 0:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"landing zone is empty{waiting}"), cursor=cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=fingerprint, tags={"learning_loop/landing_files": str(count)})],
        cursor=cursor,
    )


