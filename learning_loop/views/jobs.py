"""`learning-loop jobs status` (runbook 002 `learning_scheduler status`): per background job its
schedule, state, next tick and last run, read from the Dagster instance."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType
from dagster._utils.schedules import cron_string_iterator

from learning_loop.domain.jobs.catalog import JOBS


def _iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_tick(cron: str, after: datetime) -> datetime:
    return next(cron_string_iterator(after.timestamp(), cron, "UTC"))


def schedule_states(instance: dg.DagsterInstance) -> dict[str, str]:
    """Schedule name -> `running` / `stopped` as stored on the instance (default: stopped)."""
    out: dict[str, str] = {}
    if instance.schedule_storage is None:
        return out
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        out[state.name] = "running" if state.status in (InstigatorStatus.RUNNING,) else "stopped"
    return out


def status(instance: dg.DagsterInstance, now: datetime | None = None) -> list[dict[str, Any]]:
    """One dict per SPEC §13 job: `name`, `job`, `schedule`, `cron`, `schedule_state`, `next_tick`,
    `timeout_s`, `last_run_id`, `outcome`, `started_at`, `ended_at`, `duration_s`."""
    now = now or datetime.now(timezone.utc)
    states = schedule_states(instance)
    rows = []
    for spec in JOBS:
        records = instance.get_run_records(filters=dg.RunsFilter(job_name=spec.job_name), limit=1)
        record = records[0] if records else None
        start = record.start_time if record else None
        end = record.end_time if record else None
        rows.append({
            "name": spec.name,
            "job": spec.job_name,
            "schedule": spec.schedule_name,
            "cron": spec.cron,
            "timezone": "UTC",
            "schedule_state": states.get(spec.schedule_name, "stopped"),
            "next_tick": _iso(next_tick(spec.cron, now)),
            "timeout_s": spec.timeout_s,
            "last_run_id": record.dagster_run.run_id if record else None,
            "outcome": record.dagster_run.status.value if record else None,
            "started_at": _iso(start),
            "ended_at": _iso(end),
            "duration_s": round(end - start, 3) if start is not None and end is not None else None,
        })
    return rows
