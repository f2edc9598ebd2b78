"""06:00 UTC: plan-next for every project in LEARNING_LOOP_PLAN_PROJECTS (runbook cron)."""

from datetime import timezone

import dagster as dg

from learning_loop.defs.planning.batches import PlanNextConfig, plan_next_batch
from learning_loop.orchestration.partitions import tick_time
from learning_loop.orchestration.resources import RuntimeResource


@dg.schedule(
    job=plan_next_batch,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    name="plan_next_daily_0600_utc",
    description="06:00 UTC: plan-next per project in LEARNING_LOOP_PLAN_PROJECTS, topics from "
    "$LEARNING_LOOP_HOME/topics/<project_id>/<YYYY-MM-DD>.txt (count: LEARNING_LOOP_PLAN_COUNT, default 5).",
)
def plan_next_daily(context: dg.ScheduleEvaluationContext, runtime: RuntimeResource):
    when = tick_time(context)
    day = when.astimezone(timezone.utc).date().isoformat()
    projects = runtime.plan_projects
    if not projects:
        return dg.SkipReason("no projects configured: set LEARNING_LOOP_PLAN_PROJECTS")
    requests, missing = [], []
    for project in projects:
        path = runtime.topics_dir / project / f"{day}.txt"
        if not path.is_file():
            missing.append(str(path))
            continue
        config = PlanNextConfig(
            project_id=project,
            topics_file=str(path),
            count=runtime.plan_count,
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
