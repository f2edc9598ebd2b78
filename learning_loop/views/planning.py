"""Read-only views of batches, jobs, experiments and recommendations."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from learning_loop.domain.planning import PlanRequest
from learning_loop.domain.ranking import rank_recipes
from learning_loop.stores.planning import PlanningOptions, job_extras, make_plan
from learning_loop.stores.models import GateConfig
from learning_loop.views.common import records, require_project
from learning_loop.warehouse.backend import Warehouse


def experiments_view(wh: Warehouse, project: str, status: str | None = None) -> dict[str, Any]:
    """Experiments with their latest verdict (n per arm, means, effect and interval)."""
    require_project(wh, project)
    where = "AND e.status = :s" if status else ""
    frame = wh.query_df(
        "SELECT e.experiment_id, e.status, e.winner, e.variable_tested, e.baseline_value, e.variant_value, "
        "e.baseline_recipe_hash, e.variant_recipe_hash, e.started_at, e.completed_at, e.level, e.min_n_per_arm, "
        "e.max_duration_days, v.partition_date AS verdict_partition, v.n_baseline, v.n_variant, v.baseline_mean, "
        "v.variant_mean, v.effect, v.ci_low, v.ci_high, v.mde, v.decided_reason, v.method "
        "FROM experiments e LEFT JOIN experiment_verdicts v ON v.experiment_id = e.experiment_id "
        "AND v.partition_date = (SELECT max(w.partition_date) FROM experiment_verdicts w WHERE w.experiment_id = e.experiment_id) "
        f"WHERE e.project_id = :p {where} ORDER BY e.started_at DESC, e.experiment_id",
        {"p": project, "s": status},
    )
    return {"project_id": project, "status": status, "experiments": records(frame)}


def _latest_video(wh: Warehouse, project: str):
    value = wh.scalar("SELECT max(published_at) FROM videos WHERE project_id = :p", {"p": project})
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def planning_stats(wh: Warehouse, project: str) -> dict[str, Any]:
    """Batch and experiment numbers for `stats` (runbook: success rate, explore share, backlog)."""
    batches = wh.query_df(
        "SELECT count(*) AS batches, coalesce(sum(jobs_created), 0) AS jobs_created, "
        "coalesce(sum(jobs_completed), 0) AS jobs_completed, coalesce(sum(explore_count), 0) AS explore, "
        "count(*) FILTER (WHERE jobs_created > 0 AND jobs_completed >= jobs_created AND as_of < :latest) AS complete, "
        "count(*) FILTER (WHERE jobs_created > 0 AND as_of < :latest) AS due, "
        "max(as_of) AS last_batch_at FROM planned_batches WHERE project_id = :p",
        {"p": project, "latest": _latest_video(wh, project)},
    ).iloc[0]
    experiments = wh.query_df(
        "SELECT status, winner, count(*) AS n FROM experiments WHERE project_id = :p GROUP BY status, winner",
        {"p": project},
    )
    n_batches, created = int(batches["batches"]), int(batches["jobs_created"])
    by_status = {s: int(experiments.loc[experiments["status"] == s, "n"].sum()) for s in ("running", "completed")}
    winners = {
        str(r["winner"]): int(r["n"]) for r in experiments[experiments["status"] == "completed"].to_dict("records")
    }
    return {
        "batches": {
            "batches": n_batches,
            "jobs_created": created,
            "jobs_completed": int(batches["jobs_completed"]),
            # over batches planned before the newest video arrived (the only ones whose jobs could be done);
            # None (printed "-") while there are none
            "batch_success_rate": (int(batches["complete"]) / int(batches["due"])) if int(batches["due"]) else None,
            "explore_share": (int(batches["explore"]) / created) if created else None,
            "last_batch_at": records(batches.to_frame().T)[0]["last_batch_at"],
        },
        "experiments": {**by_status, "winners": winners},
    }


def recommendations_view(
    wh: Warehouse,
    project: str,
    count: int,
    topics: list[str],
    as_of: datetime,
    gate: GateConfig,
    seed: int = 0,
    options: PlanningOptions | None = None,
) -> dict[str, Any]:
    """The plan plan-next would make now, without writing anything, plus context (seed 001)."""
    require_project(wh, project)
    placeholder = not topics
    request = PlanRequest(
        project_id=project,
        topics=topics or [f"(topic {i})" for i in range(1, count + 1)],
        count=count,
        as_of=as_of,
        seed=seed,
    )
    with wh.transaction() as tx:
        plan, inputs = make_plan(tx, request, options=options)
        extras = job_extras(tx, plan, gate)
        recent = tx.scalar(
            "SELECT count(*) FROM planned_batches WHERE project_id = :p AND as_of >= :since",
            {"p": project, "since": request.as_of.replace(tzinfo=None) - timedelta(days=7)},
        )
    payload = plan.to_json_dict()
    for job, extra in zip(payload["jobs"], extras):
        job.update(extra)
    payload["batch_id"] = None  # nothing was planned
    payload["recommendations"] = [
        {"type": j["generation_mode"], "recipe": j["recipe"], "topic": None if placeholder else j["topic"], "reason": j["reason"]}
        for j in payload["jobs"]
    ]
    payload["top_recipes"] = [
        {
            "rank": r.rank,
            "recipe_hash": r.stat.recipe_hash,
            "recipe": r.stat.recipe.fields(),
            "score": r.score,
            "avg_reward": r.stat.avg_reward,
            "scored_videos": r.stat.scored_videos,
        }
        for r in rank_recipes(inputs.stats)[:5]
    ]
    payload["running_experiments"] = len(inputs.running)
    payload["recent_batches"] = int(recent or 0)
    payload["stats_partition"] = inputs.stats_partition.isoformat()
    return json.loads(json.dumps(payload, default=str))
