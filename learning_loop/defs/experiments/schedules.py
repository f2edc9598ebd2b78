"""The hourly A/B analysis (seed 002): re-evaluate the verdicts of the latest complete partition."""

from datetime import timedelta, timezone

import dagster as dg

from learning_loop.orchestration.partitions import tick_time

ab_analysis_job = dg.define_asset_job(
    "ab_analysis",
    selection=dg.AssetSelection.assets("experiment_verdicts"),
    description="Re-evaluate experiment verdicts.",
    tags={"dagster/max_runtime": str(30 * 60)},  # the runbook's 30-minute timeout (enforced by run monitoring)
)


@dg.schedule(
    job=ab_analysis_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    name="ab_analysis_hourly",
    description="Hourly A/B analysis (seed 002): re-evaluate verdicts of the latest complete partition.",
)
def ab_analysis_hourly(context: dg.ScheduleEvaluationContext):
    when = tick_time(context)
    partition = (when.astimezone(timezone.utc) - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"{partition}:{when:%Y%m%d%H}", partition_key=partition)
