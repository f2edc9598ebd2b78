"""Warehouse side of plan-next: load the planner's inputs as of a moment, write a plan.

Plain functions over a Transaction (no Dagster), shared by the Dagster op, the
read-only recommendations view and the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from learning_loop.domain.planning import (
    MAX_TOPIC_CHARS,
    BatchPlan,
    ExperimentRef,
    NoRecipeStatsError,
    PlannerConfig,
    PlanRequest,
    clean_topics,
    plan_batch,
)
from learning_loop.domain.ranking import RecipeStat
from learning_loop.stores.models import GateConfig, assign_content_and_hours, latest_arms, latest_predictors, predict_jobs
from learning_loop.domain.recipe import RECIPE_FIELDS, Recipe
from learning_loop.warehouse.backend import Transaction


class TopicsFileError(ValueError):
    """The topics file cannot be used; nothing was planned."""


def read_topics_file(path: str | Path, max_chars: int = MAX_TOPIC_CHARS) -> list[str]:
    """Lines of a UTF-8 topics file, validated: exists, decodes, not empty after cleaning, no overlong line."""
    path = Path(path)
    if path.is_dir():
        raise TopicsFileError(f"topics file is a directory, not a file: {path}")
    if not path.is_file():
        raise TopicsFileError(f"topics file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TopicsFileError(f"topics file is not UTF-8 text: {path} (byte {exc.start})") from None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if len(line.strip()) > max_chars:
            raise TopicsFileError(f"topics file {path}: line {number} is longer than {max_chars} characters")
    if not clean_topics(lines, max_chars).topics:
        raise TopicsFileError(f"topics file {path} has no topics (only blank lines)")
    return lines


def parse_as_of(value: str | None) -> datetime:
    """ISO-8601 (no offset = UTC) or now; returned aware in UTC."""
    if not value:
        return datetime.now(timezone.utc)
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--as-of is not an ISO-8601 timestamp: {value!r}") from None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _naive(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


@dataclass
class PlanningInputs:
    stats: list[RecipeStat]
    stats_partition: date
    existing_pairs: set[tuple[str, str]]
    running: list[ExperimentRef]


def latest_stats_partition(tx: Transaction, project_id: str, as_of: datetime) -> date | None:
    """Newest recipe_stats partition whose T (= partition + 1 day) is not after as_of."""
    value = tx.scalar(
        "SELECT max(partition_date) FROM recipe_stats WHERE project_id = :p AND partition_date <= :last",
        {"p": project_id, "last": (_naive(as_of) - timedelta(days=1)).date()},
    )
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def load_inputs(tx: Transaction, project_id: str, as_of: datetime) -> PlanningInputs:
    partition = latest_stats_partition(tx, project_id, as_of)
    if partition is None:
        raise NoRecipeStatsError(project_id)
    frame = tx.query_df(
        f"SELECT recipe_hash, {', '.join(RECIPE_FIELDS)}, times_used, scored_videos, avg_reward, best_reward "
        "FROM recipe_stats WHERE project_id = :p AND partition_date = :d ORDER BY recipe_hash",
        {"p": project_id, "d": partition},
    )
    stats = [
        RecipeStat(
            recipe=Recipe(**{f: (int(row[f]) if f == "scene_count" else row[f]) for f in RECIPE_FIELDS}),
            recipe_hash=row["recipe_hash"],
            times_used=int(row["times_used"]),
            scored_videos=int(row["scored_videos"]),
            avg_reward=None if pd.isna(row["avg_reward"]) else float(row["avg_reward"]),
            best_reward=None if pd.isna(row["best_reward"]) else float(row["best_reward"]),
        )
        for row in frame.to_dict("records")
    ]
    if not stats:
        raise NoRecipeStatsError(project_id)
    pairs = tx.query_df(
        "SELECT topic_hash, recipe_hash FROM videos WHERE project_id = :p AND recipe_hash IS NOT NULL "
        "UNION SELECT topic_hash, recipe_hash FROM video_jobs WHERE project_id = :p",
        {"p": project_id},
    )
    running = tx.query_df(
        "SELECT experiment_id, baseline_recipe_hash, variant_recipe_hash FROM experiments "
        "WHERE project_id = :p AND status = 'running' ORDER BY experiment_id",
        {"p": project_id},
    )
    return PlanningInputs(
        stats=stats,
        stats_partition=partition,
        existing_pairs=set(pairs.itertuples(index=False, name=None)),
        running=[ExperimentRef(*row) for row in running.itertuples(index=False, name=None)],
    )


def make_plan(tx: Transaction, request: PlanRequest, config: PlannerConfig | None = None) -> tuple[BatchPlan, PlanningInputs]:
    inputs = load_inputs(tx, request.project_id, request.as_of)
    plan = plan_batch(request, inputs.stats, inputs.existing_pairs, inputs.running, config)
    return plan, inputs


def write_plan(
    tx: Transaction,
    plan: BatchPlan,
    inputs: PlanningInputs,
    rules: dict[str, Any],
    run_id: str | None,
    job_extras: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Insert the batch, its jobs and its new experiments (inside the caller's transaction)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    payload = plan.to_json_dict()
    extras = job_extras or [{} for _ in plan.jobs]
    for job_json, extra in zip(payload["jobs"], extras):
        job_json.update(extra)
    tx.insert_df(
        "planned_batches",
        pd.DataFrame(
            [
                {
                    "batch_id": plan.batch_id,
                    "project_id": plan.project_id,
                    "batch_date": _naive(plan.as_of).date(),
                    "as_of": _naive(plan.as_of),
                    "seed": plan.seed,
                    "requested": plan.requested,
                    "planned": plan.planned,
                    "exploit_count": plan.exploit_count,
                    "explore_count": plan.explore_count,
                    "jobs_created": plan.planned,
                    "jobs_completed": 0,
                    "stats_partition_date": inputs.stats_partition,
                    "skipped": json.dumps(payload["skipped"]),
                    "plan_json": json.dumps(payload),
                    "run_id": run_id,
                    "created_at": now,
                }
            ]
        ),
    )
    jobs = []
    for job, extra in zip(plan.jobs, extras):
        jobs.append(
            {
                "job_id": job.job_id,
                "batch_id": plan.batch_id,
                "project_id": plan.project_id,
                "topic": job.topic,
                "topic_hash": job.topic_hash,
                "generation_mode": job.generation_mode,
                **job.recipe.fields(),
                "recipe_hash": job.recipe_hash,
                "experiment_id": job.experiment_id,
                "reason": job.reason,
                "brief": json.dumps(job.brief),
                "status": "planned",
                "created_at": now,
                **{k: v for k, v in extra.items() if k in _JOB_EXTRA_COLUMNS},
            }
        )
    tx.insert_df("video_jobs", pd.DataFrame(jobs))
    experiments = [
        {
            "experiment_id": e.experiment_id,
            "project_id": e.project_id,
            "variable_tested": e.variable_tested,
            "baseline_value": e.baseline_value,
            "variant_value": e.variant_value,
            "baseline_recipe_hash": e.baseline_recipe_hash,
            "variant_recipe_hash": e.variant_recipe_hash,
            "status": "running",
            "winner": None,
            "started_at": _naive(e.started_at),
            "created_batch_id": plan.batch_id,
            **rules,
        }
        for e in plan.new_experiments
    ]
    tx.insert_df("experiments", pd.DataFrame(experiments))
    return payload


def job_extras(tx: Transaction, plan: BatchPlan, gate: GateConfig) -> list[dict[str, Any]]:
    """Per job: content type (Thompson over content arms), posting hour (UCB1 over timing arms),
    predicted engagement and follow-through from the latest predictors, and the gate (issue 4)."""
    arms = latest_arms(tx, plan.project_id, plan.as_of)
    picks = assign_content_and_hours(arms, len(plan.jobs), plan.seed)
    extras = [{"content_type": content, "posting_hour": hour} for content, hour in picks]
    features = [{**job.recipe.fields(), **extra} for job, extra in zip(plan.jobs, extras)]
    predictions = predict_jobs(latest_predictors(tx, plan.project_id, plan.as_of), features, gate)
    return [{**extra, **prediction} for extra, prediction in zip(extras, predictions)]


_JOB_EXTRA_COLUMNS = {
    "content_type",
    "posting_hour",
    "predicted_engagement_rate",
    "predicted_follow_through",
    "prediction_reason",
    "gate_passed",
}
