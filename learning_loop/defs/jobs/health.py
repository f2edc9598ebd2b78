"""The runbook's alerts as asset checks (runbook 002 "Monitoring & Alerts"): the asset
`background_job_health`, refreshed hourly by `background_job_health_hourly`.

Checks (WARN): `failed_run_rate` (> 5 % of the background jobs' runs failed in the
last 24 h), `scheduled_jobs_fresh` (a running schedule without a successful run
in twice its period), `rag_pairs_growing` (no retrieval pair loaded in 48 h).
"""


from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from learning_loop.defs.jobs.common import GROUP, AsOfConfig
from learning_loop.domain.jobs.alerts import Alert, RunRecord, failed_run_rate, rag_pairs_growing, stale_jobs
from learning_loop.domain.jobs.catalog import JOBS
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, tick_time, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores.planning import parse_as_of
from learning_loop.warehouse.backend import Warehouse

ASSET = "background_job_health"
CHECKS = ("failed_run_rate", "scheduled_jobs_fresh", "rag_pairs_growing")


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


def run_records(instance: dg.DagsterInstance, since: datetime | None = None, limit: int = 500) -> list[RunRecord]:
    """Recent runs of the background jobs (newest first)."""
    names = [s.job_name for s in JOBS]
    filters = dg.RunsFilter(job_name=None, created_after=since) if since else dg.RunsFilter()
    out = []
    for record in instance.get_run_records(filters=filters, limit=limit):
        run = record.dagster_run
        if run.job_name in names:
            out.append(RunRecord(run.job_name, run.status.value, _utc(record.start_time), _utc(record.end_time)))
    return out


def running_schedules(instance: dg.DagsterInstance) -> set[str]:
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    if instance.schedule_storage is None:  # an ephemeral instance (tests) has no schedules
        return set()
    states = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
    return {s.name for s in states if s.status == InstigatorStatus.RUNNING}


def alerts(instance: dg.DagsterInstance, wh: Warehouse, as_of: datetime) -> list[Alert]:
    runs = run_records(instance, since=as_of - timedelta(days=30))
    loaded = wh.query_df("SELECT loaded_at FROM retrieval_pairs WHERE loaded_at IS NOT NULL")
    return [failed_run_rate(runs, as_of), stale_jobs(runs, JOBS, running_schedules(instance), as_of),
            rag_pairs_growing(list(pd.to_datetime(loaded["loaded_at"])), as_of)]


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    kinds={"dagster", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    description="Health of the background jobs: the runbook's alerts as WARN checks.",
    check_specs=[dg.AssetCheckSpec(name, asset=ASSET) for name in CHECKS],
)
def background_job_health(context: dg.AssetExecutionContext, config: AsOfConfig,
                          warehouse: WarehouseResource) -> dg.MaterializeResult:
    as_of = parse_as_of(config.as_of)
    found = alerts(context.instance, warehouse.get(), as_of)
    return dg.MaterializeResult(
        metadata={a.name: float(a.value or 0.0) for a in found} | {"firing": float(sum(a.firing for a in found))},
        check_results=[dg.AssetCheckResult(check_name=a.name, passed=not a.firing, severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"message": a.message}) for a in found],
    )


background_job_health_job = dg.define_asset_job(
    "check_background_jobs", selection=dg.AssetSelection.assets(ASSET), tags={"dagster/max_runtime": "600"},
    description="Evaluate the background jobs' alerts.")


@dg.schedule(job=background_job_health_job, cron_schedule="45 * * * *", execution_timezone="UTC",
             name="background_job_health_hourly", description="Hourly: the background jobs' alerts (runbook 002).")
def background_job_health_hourly(context: dg.ScheduleEvaluationContext):
    when = tick_time(context)
    return dg.RunRequest(run_key=when.strftime("%Y%m%dT%H%M"),
                         run_config={"ops": {ASSET: {"config": {"as_of": when.isoformat()}}}})
