"""The background jobs of runbook 002 as SPEC §13 names them: schedule, period, timeout.

`name` is what the operator types (`learning-loop jobs run NAME`); `job_name` and
`schedule_name` are the Dagster definitions behind it. Timeouts are the runbook's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobSpec:
    name: str
    job_name: str
    schedule_name: str
    cron: str
    period_hours: float
    timeout_s: int
    what: str
    touches_learning_data: bool


JOBS: tuple[JobSpec, ...] = (
    JobSpec("prompt_optimization", "prompt_optimization", "prompt_optimization", "0 2 * * 1", 7 * 24, 3600,
            "score prompt variants per eligible agent, record a training run for review", True),
    JobSpec("rag_training", "rag_training", "rag_training", "0 3 * * *", 24, 7200,
            "build the retrieval training set of the last 7 days with BM25 hard negatives", True),
    JobSpec("ab_analysis", "ab_analysis", "ab_analysis_hourly", "15 * * * *", 1, 1800,
            "re-evaluate running experiments (SPEC §6)", False),
    JobSpec("cleanup", "cleanup", "cleanup", "0 1 * * 0", 7 * 24, 1800,
            "archive feedback older than FEEDBACK_RETENTION_DAYS to Parquet, verify, delete", True),
    JobSpec("learning_report", "learning_report", "learning_report", "0 9 * * 1", 7 * 24, 600,
            "the weekly learning report (Markdown + plots)", False),
)

BY_NAME: dict[str, JobSpec] = {spec.name: spec for spec in JOBS}


class UnknownJob(ValueError):
    """A job name that is not one of SPEC §13's."""


def job_spec(name: str) -> JobSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownJob(f"unknown job {name!r}; one of: {', '.join(BY_NAME)}") from None
