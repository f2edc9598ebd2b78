"""The plan_next_batch op job, the tables it writes and batch completion (contract §6)."""

import sys

import dagster as dg

from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.domain.planning import PlanRequest
from learning_loop.stores.experiment_rules import frozen_rules
from learning_loop.stores.planning import job_extras, make_plan, parse_as_of, read_topics_file, write_plan

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
    description="Plan the next batch (contract §6) and write batch, jobs and experiments in one transaction.",
)
def plan_next_batch_op(
    context: dg.OpExecutionContext, config: PlanNextConfig, warehouse: WarehouseResource, runtime: RuntimeResource
):
    request = plan_request(config)
    wh = warehouse.get()
    with wh.transaction() as tx:
        plan, inputs = make_plan(tx, request, options=runtime.planning())
        extras = job_extras(tx, plan, runtime.gate())
        payload = write_plan(tx, plan, inputs, frozen_rules(runtime.experiment_rules()), context.run_id, extras)
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
            "policy": plan.policy,
            **_model_metadata(plan, payload["jobs"]),
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


def _model_metadata(plan, jobs: list[dict]) -> dict:
    """What an operator plots to watch the model converge: the best recipe's posterior mean and sd,
    the running-experiment cap and the logged propensities' range."""
    if not plan.model:
        return {}
    m = plan.model
    props = [float(j["propensity"]) for j in jobs if j.get("propensity") is not None]
    return {
        "best_recipe_posterior_mean": float(m["best_recipe_posterior_mean"]),
        "best_recipe_posterior_sd": float(m["best_recipe_posterior_sd"]),
        "best_recipe_hash": str(m["best_recipe_hash"]),
        "best_content_type": str(m["best_content_type"]),
        "best_hour": int(m["best_hour"]),
        "model_training_videos": int(m["training_videos"]),
        "model_noise_sd": float(m["noise_sd"]),
        "running_experiment_cap": int(m["running_experiment_cap"]),
        "experiments_filling": int(m["experiments_filling"]),
        "experiments_futile": int(m["experiments_futile"]),
        "min_propensity": float(min(props)) if props else 0.0,
        "mean_propensity": float(sum(props) / len(props)) if props else 0.0,
    }


@dg.job(name="plan_next_batch", description="plan-next: the next batch of video jobs for one project.")
def plan_next_batch():
    plan_next_batch_op()


@dg.asset(
    group_name=PLANNING_GROUP,
    deps=["videos", "video_jobs"],
    kinds={warehouse_kind()},
    pool=WAREHOUSE_POOL,
    code_version=code_version_of(sys.modules[__name__]),
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
