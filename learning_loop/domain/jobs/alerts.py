"""The runbook's alerts (runbook 002 "Monitoring & Alerts") as pure rules.

- failed-run rate: more than 5 % of the background jobs' runs that ended in the
  24 hours before as_of failed;
- stale schedule: a job whose schedule is running has had no successful run in
  twice its period;
- RAG pairs not growing: retrieval pairs exist but none was loaded in the 48
  hours before as_of (twice the daily `rag_training` period).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.jobs.catalog import JobSpec

MAX_FAILED_RATE = 0.05
FAILED_WINDOW_HOURS = 24
RAG_GROWTH_HOURS = 48
FAILED, SUCCESS = "FAILURE", "SUCCESS"
ENDED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class RunRecord:
    job_name: str
    status: str  # Dagster run status name
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Alert:
    name: str
    firing: bool
    message: str
    value: float | None = None


def failed_run_rate(runs: Iterable[RunRecord], as_of: datetime, hours: float = FAILED_WINDOW_HOURS) -> Alert:
    end = utc_naive(as_of)
    since = end - timedelta(hours=hours)
    ended = [r for r in runs if r.status in ENDED and r.end is not None and since <= utc_naive(r.end) < end]
    failed = sum(r.status == FAILED for r in ended)
    rate = failed / len(ended) if ended else 0.0
    firing = rate > MAX_FAILED_RATE
    msg = f"{failed} of {len(ended)} runs failed in the last {hours:g} h ({rate:.1%}; alert above {MAX_FAILED_RATE:.0%})"
    return Alert("failed_run_rate", firing, msg, rate)


def stale_jobs(runs: Iterable[RunRecord], specs: Sequence[JobSpec], running_schedules: Iterable[str],
               as_of: datetime) -> Alert:
    end = utc_naive(as_of)
    running = set(running_schedules)
    runs = list(runs)
    stale = []
    for spec in specs:
        if spec.schedule_name not in running:
            continue
        ok = [utc_naive(r.end) for r in runs if r.job_name == spec.job_name and r.status == SUCCESS and r.end]
        last = max((t for t in ok if t < end), default=None)
        if last is None or end - last > timedelta(hours=2 * spec.period_hours):
            stale.append(f"{spec.name} (last success {'never' if last is None else last.isoformat() + 'Z'})")
    msg = ("no successful run in twice the period: " + ", ".join(stale)) if stale else \
        f"every running schedule succeeded within twice its period ({len(running)} running)"
    return Alert("scheduled_jobs_fresh", bool(stale), msg, float(len(stale)))


def rag_pairs_growing(loaded_at: Sequence[datetime], as_of: datetime, hours: float = RAG_GROWTH_HOURS) -> Alert:
    end = utc_naive(as_of)
    before = [utc_naive(t) for t in loaded_at if utc_naive(t) < end]
    recent = sum(t >= end - timedelta(hours=hours) for t in before)
    firing = bool(before) and recent == 0
    msg = (f"{recent} retrieval pairs loaded in the last {hours:g} h ({len(before)} in total)" if before
           else "no retrieval pairs yet")
    return Alert("rag_pairs_growing", firing, msg, float(recent))
