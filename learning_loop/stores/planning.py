"""Warehouse side of plan-next: load the planner's inputs as of a moment, write a plan.

Plain functions over a Transaction (no Dagster), shared by the Dagster op, the
read-only recommendations view and the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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
from learning_loop.domain.additive import Vocabulary, fit_additive, model_target
from learning_loop.domain.planning.model_planner import (
    Evidence,
    ModelPlanInputs,
    experiment_cap,
    plan_batch_with_model,
)
from learning_loop.domain.ranking import RecipeStat
from learning_loop.stores.models import GateConfig, assign_content_and_hours, latest_arms, latest_predictors, predict_jobs
from learning_loop.domain.recipe import RECIPE_FIELDS, Recipe
from learning_loop.settings import Settings
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


#: Days of mature videos the additive model learns from, and the least it needs to be fitted.
MODEL_WINDOW_DAYS = 90
MODEL_MIN_VIDEOS = 10
#: Days of planned batches behind the project's volume (for the experiment cap).
VOLUME_DAYS = 14


@dataclass(frozen=True)
class PlanningOptions:
    """How plan-next plans: which planner, the running-experiment cap (0 = sized from the volume)
    and the experiments' minimum n per arm."""

    planner: str = "model"
    max_experiments: int = 0
    min_n: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> PlanningOptions:
        return cls(planner=settings.planner, max_experiments=settings.plan_max_experiments, min_n=settings.ab_min_n)


@dataclass
class PlanningInputs:
    stats: list[RecipeStat]
    stats_partition: date
    existing_pairs: set[tuple[str, str]]
    running: list[ExperimentRef]
    model: ModelPlanInputs | None = None
    model_note: str | None = None


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
        "SELECT e.experiment_id, e.baseline_recipe_hash, e.variant_recipe_hash, "
        # the variant arm (SPEC §6): every job with the variant recipe planned since the experiment started,
        # exploit jobs included
        "(SELECT count(*) FROM video_jobs j JOIN planned_batches b ON b.batch_id = j.batch_id "
        "WHERE j.project_id = e.project_id AND j.recipe_hash = e.variant_recipe_hash "
        "AND b.as_of >= e.started_at) AS variant_jobs "
        "FROM experiments e WHERE e.project_id = :p AND e.status = 'running' ORDER BY e.experiment_id",
        {"p": project_id},
    )
    return PlanningInputs(
        stats=stats,
        stats_partition=partition,
        existing_pairs=set(pairs.itertuples(index=False, name=None)),
        running=[
            ExperimentRef(str(e), str(b), str(v), int(n)) for e, b, v, n in running.itertuples(index=False, name=None)
        ],
    )


def _training_rows(tx: Transaction, project_id: str, partition: date) -> pd.DataFrame:
    """Mature videos with a full recipe in the model window, as of the stats partition (SPEC §4 as-of)."""
    since = datetime.combine(partition, datetime.min.time()) + timedelta(days=1 - MODEL_WINDOW_DAYS)
    return tx.query_df(
        f"SELECT o.video_id, o.published_at, o.views_6h, o.avg_view_duration_s, o.engagement_rate, v.content_type, "
        f"v.recipe_hash, {', '.join('v.' + f for f in RECIPE_FIELDS)} "
        "FROM outcomes o JOIN videos v ON v.project_id = o.project_id AND v.video_id = o.video_id "
        "WHERE o.partition_date = :d AND o.project_id = :p AND o.is_mature AND o.views_6h IS NOT NULL "
        "AND o.avg_view_duration_s IS NOT NULL AND o.engagement_rate IS NOT NULL AND v.recipe_hash IS NOT NULL "
        "AND o.published_at >= :since ORDER BY o.video_id",
        {"d": partition, "p": project_id, "since": since},
    )


def _decided(tx: Transaction, project_id: str, as_of: datetime) -> tuple[set[str], set[str]]:
    """Promoted (won a decided experiment) and demoted (lost one) recipe hashes; the latest verdict wins."""
    frame = tx.query_df(
        "SELECT baseline_recipe_hash, variant_recipe_hash, winner FROM experiments "
        "WHERE project_id = :p AND status = 'completed' AND winner IN ('baseline', 'variant') "
        "AND completed_at IS NOT NULL AND completed_at <= :t ORDER BY completed_at, experiment_id",
        {"p": project_id, "t": _naive(as_of)},
    )
    promoted: set[str] = set()
    demoted: set[str] = set()
    for baseline, variant, winner in frame.itertuples(index=False, name=None):
        won, lost = (variant, baseline) if winner == "variant" else (baseline, variant)
        promoted.add(won)
        demoted.discard(won)
        demoted.add(lost)
        promoted.discard(lost)
    return promoted, demoted


def _jobs_per_day(tx: Transaction, project_id: str, as_of: datetime, fallback: int) -> float:
    day = _naive(as_of).date()
    frame = tx.query_df(
        "SELECT coalesce(sum(planned), 0) AS jobs, count(DISTINCT batch_date) AS days FROM planned_batches "
        "WHERE project_id = :p AND batch_date >= :since AND batch_date < :day",
        {"p": project_id, "since": day - timedelta(days=VOLUME_DAYS), "day": day},
    )
    jobs, days = float(frame.iat[0, 0]), int(frame.iat[0, 1])
    return jobs / days if days else float(fallback)


def load_model_inputs(
    tx: Transaction, request: PlanRequest, inputs: PlanningInputs, options: PlanningOptions
) -> tuple[ModelPlanInputs | None, str | None]:
    """Fit the additive model on the project's mature videos as of the stats partition, and gather the
    rest of the model planner's inputs. ``(None, reason)`` when there are too few videos to fit it."""
    rows = _training_rows(tx, request.project_id, inputs.stats_partition)
    if len(rows) < MODEL_MIN_VIDEOS:
        return None, (
            f"only {len(rows)} mature videos with a recipe in the last {MODEL_WINDOW_DAYS} days "
            f"(the model needs {MODEL_MIN_VIDEOS}): planned by recipe ranking"
        )
    recipes = [
        {f: (int(r[f]) if f == "scene_count" else r[f]) for f in RECIPE_FIELDS} for r in rows.to_dict("records")
    ]
    content = [None if pd.isna(c) or not str(c).strip() else str(c) for c in rows["content_type"]]
    hours = [pd.Timestamp(ts).hour for ts in rows["published_at"]]
    target = model_target(rows["avg_view_duration_s"], rows["views_6h"], rows["engagement_rate"])
    presets = tuple(sorted({str(r["preset"]) for r in recipes} | {s.recipe.preset for s in inputs.stats}))
    posterior = fit_additive(
        recipes, content, hours, target,
        vocabulary=Vocabulary(presets=presets, content_types=tuple(sorted({c for c in content if c}))),
    )
    counts = rows.groupby("recipe_hash").size()
    first = {h: recipes[i] for i, h in enumerate(rows["recipe_hash"])}
    evidence = [Evidence(Recipe(**first[h]), str(h), int(n)) for h, n in counts.items()]
    promoted, demoted = _decided(tx, request.project_id, request.as_of)
    cap = options.max_experiments or experiment_cap(
        _jobs_per_day(tx, request.project_id, request.as_of, request.count), request.explore_ratio, options.min_n
    )
    return ModelPlanInputs(posterior, evidence, cap, promoted, demoted, min_n=options.min_n), None


def make_plan(
    tx: Transaction,
    request: PlanRequest,
    config: PlannerConfig | None = None,
    options: PlanningOptions | None = None,
) -> tuple[BatchPlan, PlanningInputs]:
    """Plan a batch: the model planner when the project has enough mature videos (and it is not
    switched off), else the ranking planner (with a note saying why)."""
    options = options or PlanningOptions()
    inputs = load_inputs(tx, request.project_id, request.as_of)
    if options.planner == "model":
        inputs.model, inputs.model_note = load_model_inputs(tx, request, inputs, options)
    if inputs.model is not None:
        plan = plan_batch_with_model(request, inputs.stats, inputs.existing_pairs, inputs.running, inputs.model)
    else:
        plan = plan_batch(request, inputs.stats, inputs.existing_pairs, inputs.running, config)
        if inputs.model_note:
            plan = replace(plan, notes=(*plan.notes, inputs.model_note))
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
                    "explore_ratio": float(plan.explore_ratio),
                    "policy": plan.policy,
                    "propensity_samples": plan.model.get("propensity_draws") if plan.model else None,
                    "running_experiment_cap": plan.model.get("running_experiment_cap") if plan.model else None,
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
                "planner": plan.policy,
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
    """Per job: content type and posting hour (the model planner's, with their propensities; else
    Thompson over content arms and UCB1 over timing arms),
    predicted engagement and follow-through from the latest predictors, and the gate (issue 4)."""
    if all(job.choice is not None for job in plan.jobs):  # the model planner chose them (and logged propensities)
        extras = [job.choice.to_json_dict() for job in plan.jobs if job.choice is not None]
    else:
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
    "recipe_propensity",
    "content_propensity",
    "hour_propensity",
    "propensity",
    "posterior_mean",
    "posterior_sd",
}
