"""What the background jobs (contract §10) share: tags, retry policy, the as-of config, schedules."""


from collections.abc import Callable

import dagster as dg

from learning_loop.domain.jobs.catalog import JobSpec, job_spec
from learning_loop.orchestration.partitions import tick_time
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores.learning_state import pause_reason

GROUP = "background_jobs"
#: a failed step is retried twice, 30 s then 60 s later (transient warehouse or model errors)
RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)
MAX_RUNTIME_TAG = "dagster/max_runtime"


class AsOfConfig(dg.Config):
    """`as_of`: ISO-8601 time the job runs as of (empty = now, UTC); schedules pass their tick."""

    as_of: str = ""


def job_tags(spec: JobSpec) -> dict[str, str]:
    """The runbook's timeout as Dagster's run-level limit (enforced by the run monitoring daemon)."""
    return {MAX_RUNTIME_TAG: str(spec.timeout_s), "learning_loop/background_job": spec.name}


def asset_job(name: str, asset: str, description: str):
    spec = job_spec(name)
    return dg.define_asset_job(spec.job_name, selection=dg.AssetSelection.assets(asset), tags=job_tags(spec),
                               description=description)


def as_of_schedule(name: str, job, asset: str, *, pausable: bool,
                   description: str) -> dg.ScheduleDefinition:
    """A UTC schedule with the catalog's cron that runs `asset` as of its tick; while learning is
    paused a `pausable` one skips with the pause reason (shown on the tick in the UI)."""
    spec = job_spec(name)

    def evaluate(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
        when = tick_time(context)
        if pausable:
            reason = pause_reason(warehouse.get())
            if reason:
                return dg.SkipReason(reason)
        return dg.RunRequest(run_key=when.strftime("%Y%m%dT%H%M"),
                             run_config={"ops": {asset: {"config": {"as_of": when.isoformat()}}}})

    return _schedule(spec, job, description, evaluate)


def _schedule(spec: JobSpec, job, description: str, evaluate: Callable) -> dg.ScheduleDefinition:
    return dg.schedule(job=job, cron_schedule=spec.cron, execution_timezone="UTC", name=spec.schedule_name,
                       description=description)(evaluate)
