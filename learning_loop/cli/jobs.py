"""Background learning jobs of runbook 002 (SPEC §13).

    learning-loop jobs status [--json]
    learning-loop jobs run NAME [--as-of TS] [--json]

NAME is one of prompt_optimization, rag_training, ab_analysis, cleanup,
learning_report. `run` launches the job's Dagster run on the configured
instance at once (the runbook's manual runs); `status` reads the instance.
"""

from __future__ import annotations

import argparse
from datetime import timedelta, timezone
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, check_warehouse_url, emit, fmt, launch, settings_of, ui_hint
from learning_loop.domain.jobs.catalog import BY_NAME, UnknownJob, job_spec
from learning_loop.domain.jobs.report import last_complete_week
from learning_loop.orchestration.instance import get_instance
from learning_loop.stores.planning import parse_as_of

#: the asset each job materializes (its config carries as_of)
JOB_ASSETS = {
    "prompt_optimization": "prompt_optimization_runs",
    "rag_training": "rag_training_set",
    "cleanup": "feedback_archive",
}


def cmd_status(args: argparse.Namespace) -> int:
    from learning_loop.views.jobs import status

    instance = get_instance(settings_of(args))
    try:
        payload = status(instance)
    finally:
        instance.dispose()

    def render(rows: list[dict[str, Any]]) -> str:
        lines = [f"{'job':<20} {'schedule (UTC)':<16} {'state':<8} {'next tick':<21} {'last run':<10} "
                 f"{'outcome':<8} {'started':<21} {'duration':>9}"]
        for r in rows:
            lines.append(
                f"{r['name']:<20} {r['cron']:<16} {r['schedule_state']:<8} {r['next_tick']:<21} "
                f"{(r['last_run_id'] or '-')[:8]:<10} {r['outcome'] or 'never':<8} {r['started_at'] or '-':<21} "
                f"{fmt(r['duration_s'], 1) + ' s' if r['duration_s'] is not None else '-':>9}")
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


def run_request(name: str, as_of_text: str | None) -> dict[str, Any]:
    """The run_job keyword arguments of `jobs run NAME --as-of TS` (validated, nothing launched)."""
    try:
        spec = job_spec(name)
    except UnknownJob as exc:
        raise BadInput(str(exc)) from None
    as_of = parse_as_of(as_of_text)
    kwargs: dict[str, Any] = {"tags": {"learning_loop/as_of": as_of.isoformat()}}  # `launch` adds who ran it
    if name in JOB_ASSETS:
        kwargs["run_config"] = {"ops": {JOB_ASSETS[name]: {"config": {"as_of": as_of.isoformat()}}}}
    elif name == "learning_report":
        kwargs["partition_key"] = last_complete_week(as_of).isoformat()
    elif name == "ab_analysis":
        kwargs["partition_key"] = (as_of.astimezone(timezone.utc) - timedelta(days=1)).date().isoformat()
    return {"job_name": spec.job_name, **kwargs}


def cmd_run(args: argparse.Namespace) -> int:
    request = run_request(args.name, args.as_of)
    check_warehouse_url(args)
    if args.name == "learning_report":
        from learning_loop.defs.jobs.learning_report import weekly_partitions

        if request["partition_key"] not in weekly_partitions.get_partition_keys():
            raise BadInput(f"no complete report week before --as-of: week {request['partition_key']} is before the "
                           "first partition (LEARNING_LOOP_START_DATE)")
    job_name = request.pop("job_name")
    outcome = launch(args, job_name, **request)
    payload = {"name": args.name, "job": job_name, "run_id": outcome.run_id, "outcome": "SUCCESS",
               "partition": request.get("partition_key"),
               "materializations": outcome.materializations}

    def render(p: dict[str, Any]) -> str:
        lines = [f"{p['name']}: {p['outcome']}" + (f" (partition {p['partition']})" if p["partition"] else "")]
        for asset, meta in p["materializations"].items():
            summary = {k: v for k, v in meta.items() if k in ("status", "reason", "rows_archived", "pairs",
                                                                  "agents_eligible", "week", "path")}
            lines.append(f"  {asset}: {summary}")
        lines.append(ui_hint(p["run_id"]))
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    return args.jobs_func(args)


def register(add: AddCommand) -> None:
    jobs = add("jobs", _dispatch, "background learning jobs (runbook 002): status, run now", json_flag=False)
    sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    p = sub.add_parser("status", help="each job's schedule, state, next tick and last run")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(jobs_func=cmd_status)
    p = sub.add_parser("run", help="run a job now, as a Dagster run")
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(BY_NAME)}")
    p.add_argument("--as-of", default=None, help="ISO-8601 time the job runs as of (default now, UTC)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(jobs_func=cmd_run)
