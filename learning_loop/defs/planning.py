"""Planning stage: the plan_next_batch op job, batch completion, the 06:00 schedule, runbook alerts."""

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg
import pandas as pd

from learning_loop import settings
from learning_loop.defs.partitions import WAREHOUSE_POOL
from learning_loop.defs.resources import WarehouseResource, warehouse_kind
from learning_loop.domain.asof import as_of
from learning_loop.domain.planning import PlanRequest
from learning_loop.experiment_rules import frozen_rules
from learning_loop.planning_store import job_extras, make_plan, parse_as_of, read_topics_file, write_plan

PLANNING_GROUP = "planning"

planned_batches_spec = dg.AssetSpec(
    "planned_batches",
    group_name=PLANNING_GROUP,
    deps=["recipe_stats"],
    kinds={warehouse_kind()},
    description="One row per plan-next batch: requested, planned, exploit/explore split, completion.",
)
video_jobs_spec = dg.AssetSpec(
    "video_jobs",
    group_name=PLANNING_GROUP,
    deps=["recipe_stats", "planned_batches"],
    kinds={warehouse_kind()},
    description="Planned video jobs with recipe, experiment link and generation brief.",
)
experiments_spec = dg.AssetSpec(
    "experiments",
    group_name="experiments",
    deps=["planned_batches"],
    kinds={warehouse_kind()},
    description="A/B experiments (one mutated recipe field) with their frozen rules.",
)


class PlanNextConfig(dg.Config):
    """Run config of plan_next_batch. Give `topics` or `topics_file`."""

    project_id: str
    topics: list[str] = []
    topics_file: str = ""
    count: int = 5
    as_of: str = ""  # ISO-8601; empty = now (UTC)
    seed: int = 0
    explore_ratio: float = 0.3


def plan_request(config: PlanNextConfig) -> PlanRequest:
    topics = list(config.topics)
    if config.topics_file:
        topics += read_topics_file(config.topics_file)
    return PlanRequest(
        project_id=config.project_id,
        topics=topics,
        count=config.count,
        as_of=parse_as_of(config.as_of),
        seed=config.seed,
        explore_ratio=config.explore_ratio,
    )


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The plan-next --json output"),
    description="Plan the next batch (SPEC §5) and write batch, jobs and experiments in one transaction.",
)
def plan_next_batch_op(context: dg.OpExecutionContext, config: PlanNextConfig, warehouse: WarehouseResource):
    request = plan_request(config)
    wh = warehouse.get()
    with wh.transaction() as tx:
        plan, inputs = make_plan(tx, request)
        payload = write_plan(tx, plan, inputs, frozen_rules(), context.run_id, job_extras(tx, plan))
    explore_share = plan.explore_count / plan.planned if plan.planned else 0.0
    common = {"batch_id": plan.batch_id, "project_id": plan.project_id}
    yield dg.AssetMaterialization(
        asset_key="planned_batches",
        metadata={
            **common,
            "requested": plan.requested,
            "planned": plan.planned,
            "exploit_count": plan.exploit_count,
            "explore_count": plan.explore_count,
            "explore_share": float(explore_share),
            "skipped": len(plan.skipped),
            "stats_partition": inputs.stats_partition.isoformat(),
        },
    )
    yield dg.AssetMaterialization(
        asset_key="video_jobs",
        metadata={
            **common,
            "jobs_created": plan.planned,
            "gate_passed_share": float(
                sum(1 for j in payload["jobs"] if j.get("gate_passed")) / plan.planned if plan.planned else 0.0
            ),
            "jobs": dg.MetadataValue.json(payload["jobs"][:20]),
        },
    )
    yield dg.AssetMaterialization(
        asset_key="experiments",
        metadata={
            **common,
            "new_experiments": len(plan.new_experiments),
            "reused_experiments": len(plan.reused_experiment_ids),
            "running_experiments": float(len(inputs.running) + len(plan.new_experiments)),
        },
    )
    context.log.info(
        f"batch {plan.batch_id}: {plan.planned}/{plan.requested} planned "
        f"({plan.exploit_count} exploit, {plan.explore_count} explore), {len(plan.skipped)} skipped"
    )
    yield dg.Output(payload)


@dg.job(name="plan_next_batch", description="plan-next: the next batch of video jobs for one project.")
def plan_next_batch():
    plan_next_batch_op()


@dg.asset(
    group_name=PLANNING_GROUP,
    deps=["videos", "video_jobs"],
    kinds={warehouse_kind()},
    pool=WAREHOUSE_POOL,
    description="Marks jobs completed when a video with their job_id arrives; batch success rate.",
)
def batch_completion(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get().transaction() as tx:
        tx.execute(
            "UPDATE video_jobs SET status = 'completed', "
            "video_id = (SELECT min(v.video_id) FROM videos v WHERE v.project_id = video_jobs.project_id "
            "AND v.job_id = video_jobs.job_id), "
            "completed_at = (SELECT min(v.loaded_at) FROM videos v WHERE v.project_id = video_jobs.project_id "
            "AND v.job_id = video_jobs.job_id) "
            "WHERE status <> 'completed' AND EXISTS (SELECT 1 FROM videos v WHERE v.project_id = video_jobs.project_id "
            "AND v.job_id = video_jobs.job_id)"
        )
        tx.execute(
            "UPDATE planned_batches SET jobs_completed = (SELECT count(*) FROM video_jobs j "
            "WHERE j.batch_id = planned_batches.batch_id AND j.status = 'completed')"
        )
        frame = tx.query_df(
            "SELECT count(*) AS batches, count(*) FILTER (WHERE jobs_created > 0 AND jobs_completed >= jobs_created) "
            "AS complete, coalesce(sum(jobs_created), 0) AS jobs, coalesce(sum(jobs_completed), 0) AS done "
            "FROM planned_batches"
        )
    batches, complete, jobs, done = (int(frame.iat[0, i]) for i in range(4))
    return dg.MaterializeResult(
        metadata={
            "batches": batches,
            "complete_batches": complete,
            "batch_success_rate": float(complete / batches) if batches else 0.0,
            "job_completion_rate": float(done / jobs) if jobs else 0.0,
        }
    )


# ---------------------------------------------------------------- the 06:00 schedule


def planned_projects() -> list[str]:
    """Projects planned daily: `LEARNING_LOOP_PLAN_PROJECTS` (comma-separated)."""
    return [p.strip() for p in os.environ.get("LEARNING_LOOP_PLAN_PROJECTS", "").split(",") if p.strip()]


@dg.schedule(
    job=plan_next_batch,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    name="plan_next_daily_0600_utc",
    description="06:00 UTC: plan-next per project in LEARNING_LOOP_PLAN_PROJECTS, topics from "
    "$LEARNING_LOOP_HOME/topics/<project_id>/<YYYY-MM-DD>.txt (count: LEARNING_LOOP_PLAN_COUNT, default 5).",
)
def plan_next_daily(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time or datetime.now(timezone.utc)
    day = when.astimezone(timezone.utc).date().isoformat()
    projects = planned_projects()
    if not projects:
        return dg.SkipReason("no projects configured: set LEARNING_LOOP_PLAN_PROJECTS")
    requests, missing = [], []
    for project in projects:
        path = settings.home() / "topics" / project / f"{day}.txt"
        if not path.is_file():
            missing.append(str(path))
            continue
        config = PlanNextConfig(
            project_id=project,
            topics_file=str(path),
            count=int(os.environ.get("LEARNING_LOOP_PLAN_COUNT", "5")),
            as_of=when.astimezone(timezone.utc).isoformat(),
            seed=int(when.strftime("%Y%m%d")),
        )
        requests.append(
            dg.RunRequest(
                run_key=f"{project}:{day}",
                run_config=dg.RunConfig(ops={"plan_next_batch_op": config}),
                tags={"learning_loop/project": project},
            )
        )
    if not requests:
        return dg.SkipReason(f"no topics file for {day}: missing {', '.join(missing)}")
    if missing:
        context.log.warning(f"no topics file, project skipped: {', '.join(missing)}")
    return requests


# ---------------------------------------------------------------- runbook alerts (WARN checks)


class AlertConfig(dg.Config):
    max_running_experiments: int = 20


@dg.asset_check(asset="planned_batches", description="WARN: the latest batch created zero jobs.", pool=WAREHOUSE_POOL)
def latest_batch_created_jobs(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(
        "SELECT batch_id, project_id, planned, requested FROM planned_batches ORDER BY created_at DESC LIMIT 1"
    )
    if frame.empty:
        return dg.AssetCheckResult(passed=True, metadata={"batches": 0})
    row = frame.iloc[0]
    return dg.AssetCheckResult(
        passed=int(row["planned"]) > 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"batch_id": str(row["batch_id"]), "planned": int(row["planned"]), "requested": int(row["requested"])},
    )


@dg.asset_check(asset="experiments", description="WARN: running experiments above the backlog limit.", pool=WAREHOUSE_POOL)
def experiment_backlog(config: AlertConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(
        "SELECT project_id, count(*) AS running FROM experiments WHERE status = 'running' GROUP BY project_id"
    )
    worst = int(frame["running"].max()) if not frame.empty else 0
    return dg.AssetCheckResult(
        passed=worst <= config.max_running_experiments,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "max_running_per_project": float(worst),
            "limit": config.max_running_experiments,
            "by_project": dg.MetadataValue.json(json.loads(frame.to_json(orient="records"))),
        },
    )


@dg.asset_check(
    asset="percentile_rewards",
    description="WARN: mean reward of the last 7 days' videos fell below the 7 days before (latest partition).",
    pool=WAREHOUSE_POOL,
)
def mean_reward_week_over_week(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = _week_over_week(warehouse.get())
    falling = frame[(frame["last_7d"].notna()) & (frame["prior_7d"].notna()) & (frame["last_7d"] < frame["prior_7d"])]
    return dg.AssetCheckResult(
        passed=falling.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "projects_falling": len(falling),
            "by_project": dg.MetadataValue.json(json.loads(frame.to_json(orient="records"))),
        },
    )


def _week_over_week(wh) -> pd.DataFrame:
    """Per project: mean reward of videos published in the last 7 days before T vs the 7 days before."""
    latest = wh.scalar("SELECT max(partition_date) FROM percentile_rewards")
    if latest is None or pd.isna(latest):
        return pd.DataFrame(columns=["project_id", "last_7d", "prior_7d"])
    day = pd.Timestamp(latest).date()
    t = as_of(day)
    return wh.query_df(
        "SELECT project_id, "
        "avg(reward) FILTER (WHERE published_at >= :w1) AS last_7d, "
        "avg(reward) FILTER (WHERE published_at < :w1 AND published_at >= :w2) AS prior_7d "
        "FROM percentile_rewards WHERE partition_date = :d GROUP BY project_id ORDER BY project_id",
        {"d": day, "w1": t - timedelta(days=7), "w2": t - timedelta(days=14)},
    )


ASSETS = [planned_batches_spec, video_jobs_spec, experiments_spec, batch_completion]
CHECKS = [latest_batch_created_jobs, experiment_backlog, mean_reward_week_over_week]
JOBS = [plan_next_batch]
SCHEDULES = [plan_next_daily]
