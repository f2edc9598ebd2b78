"""Operator commands of the planning runbook: plan-next, recommendations, experiments.

Everything the operator typed is checked before anything runs, so bad input
exits 2 with one line and leaves no run and no row behind.
"""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, emit, fmt, launch, settings_of, ui_hint, warehouse
from learning_loop.domain.planning import MAX_COUNT, MIN_COUNT
from learning_loop.stores.models import GateConfig
from learning_loop.stores.planning import PlanningOptions, latest_stats_partition, parse_as_of, read_topics_file
from learning_loop.views.common import require_project
from learning_loop.views.planning import experiments_view, recommendations_view


TITLE = "planning and experiments (runbooks 000, 001)"

def _check_count(count: int) -> None:
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise BadInput(f"--count must be between {MIN_COUNT} and {MAX_COUNT}, got {count}")


def _check_stats(wh, project: str, as_of) -> None:
    with wh.transaction() as tx:
        partition = latest_stats_partition(tx, project, as_of)
    if partition is None:
        raise BadInput(
            f"No top recipes: project {project!r} has no recipe stats as of {as_of.isoformat()} — "
            f"run `learning-loop backfill --project {project}` or `learning-loop update-stats --date D`"
        )


def cmd_plan_next(args: argparse.Namespace) -> int:
    _check_count(args.count)
    topics = read_topics_file(args.topics_file)
    as_of = parse_as_of(args.as_of)
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    wh = warehouse(args)
    require_project(wh, args.project)
    _check_stats(wh, args.project, as_of)
    config = {
        "project_id": args.project,
        "topics": topics,
        "count": args.count,
        "as_of": as_of.isoformat(),
        "seed": args.seed,
    }
    outcome = launch(
        args,
        "plan_next_batch",
        run_config={"ops": {"plan_next_batch_op": {"config": config}}},
        tags={"learning_loop/project": args.project},
        output_of="plan_next_batch_op",
    )
    payload = {**outcome.output, "run_id": outcome.run_id}
    emit(args, payload, lambda p: _render_plan(p) + "\n" + ui_hint(p["run_id"]))
    return 0


def _render_plan(p: dict[str, Any]) -> str:
    lines = [
        f"batch {p['batch_id'] or '(recommendation only)'} for {p['project_id']} as of {p['as_of']}: "
        f"{p['planned']}/{p['requested']} planned ({p['exploit_count']} exploit, {p['explore_count']} explore)"
    ]
    for job in p["jobs"]:
        r = job["recipe"]
        extra = ""
        if job.get("content_type") or job.get("posting_hour") is not None:
            extra = f" [{job.get('content_type') or '-'} @ {job.get('posting_hour')}h]"
        lines.append(
            f"  {job['generation_mode']:<7} {job['topic'][:48]:<48} {r['preset']}/{r['hook_type']}/{r['scene_count']}/"
            f"{r['narration_wpm_bucket']}/{r['caption_density_bucket']}/{r['ending_type']}{extra}"
        )
        lines.append(f"          {job['reason']}")
    for s in p["skipped"]:
        lines.append(f"  skipped {s['topic'][:48]}: {s['reason']}")
    if p.get("shortfall_reason"):
        lines.append(f"  note: {p['shortfall_reason']}")
    return "\n".join(lines)


def cmd_recommendations(args: argparse.Namespace) -> int:
    _check_count(args.count)
    topics = [t.strip() for t in (args.topics or "").split(",") if t.strip()]
    as_of = parse_as_of(args.as_of)
    wh = warehouse(args)
    require_project(wh, args.project)
    _check_stats(wh, args.project, as_of)
    payload = recommendations_view(
        wh, args.project, args.count, topics, as_of, GateConfig.from_settings(settings_of(args)), args.seed,
        PlanningOptions.from_settings(settings_of(args)),
    )

    def render(p: dict[str, Any]) -> str:
        lines = [_render_plan(p), f"  running experiments: {p['running_experiments']}, batches in the last 7 days: {p['recent_batches']}"]
        model = p.get("model")
        if model:
            lines.append(
                f"  planner: {p.get('policy')}: best recipe {str(model['best_recipe_hash'])[:12]}… posterior mean "
                f"{model['best_recipe_posterior_mean']:+.3f} ± {model['best_recipe_posterior_sd']:.3f} over "
                f"{model['training_videos']} mature videos; best content type {model['best_content_type']}, hour "
                f"{model['best_hour']:02d}h; experiment cap {model['running_experiment_cap']}"
            )
        lines.append("  top recipes by shrunk reward (the `recipes` ranking):")
        for r in p["top_recipes"]:
            lines.append(f"    {r['rank']}. {r['score']:.3f} over {r['scored_videos']} videos  {r['recipe_hash'][:12]}…")
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    payload = experiments_view(warehouse(args), args.project, args.status)

    def render(p: dict[str, Any]) -> str:
        if not p["experiments"]:
            return f"no {p['status'] or ''} experiments for {p['project_id']}".replace("  ", " ")
        lines = [f"experiments of {p['project_id']}"]
        for e in p["experiments"]:
            lines.append(
                f"  {e['experiment_id']} {e['status']:<9} {e['variable_tested']}: {e['baseline_value']} → {e['variant_value']}"
                f"  n={fmt(e['n_baseline'])}/{fmt(e['n_variant'])} effect={fmt(e['effect'])} "
                f"[{fmt(e['ci_low'])}, {fmt(e['ci_high'])}] winner={e['winner'] or '-'}"
            )
        return "\n".join(lines)

    emit(args, payload, render)
    return 0


def register(add: AddCommand) -> None:
    p = add("plan-next", cmd_plan_next, "plan the next batch of video jobs (a Dagster run)")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--topics-file", required=True, help="UTF-8 text, one topic per line")
    p.add_argument("--count", type=int, required=True, help="jobs wanted (1-1000)")
    p.add_argument("--as-of", default="", help="ISO-8601 timestamp of the plan (default now, UTC)")
    p.add_argument("--seed", type=int, default=0, help="planner seed: same inputs and seed, same plan (default 0)")
    p = add("recommendations", cmd_recommendations, "what plan-next would plan now, without creating anything")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--count", type=int, default=5, help="jobs wanted (default 5)")
    p.add_argument("--topics", default="", help="comma-separated topics (optional)")
    p.add_argument("--as-of", default="", help="ISO-8601 timestamp (default now, UTC)")
    p.add_argument("--seed", type=int, default=0, help="planner seed (default 0)")
    p = add("experiments", cmd_experiments, "A/B experiments and their latest verdicts")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--status", choices=["running", "completed"], help="only experiments with this status")
