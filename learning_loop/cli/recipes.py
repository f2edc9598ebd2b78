"""Read-only views of runbook 000's review step: recipes and stats."""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, emit, fmt, warehouse
from learning_loop.views.planning import planning_stats
from learning_loop.views.recipes import recipes_view, stats_view


TITLE = "reviewing results (runbook 000)"

def cmd_recipes(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BadInput(f"--limit must be at least 1, got {args.limit}")
    payload = recipes_view(warehouse(args), args.project, limit=args.limit)
    emit(args, payload, _render_recipes)
    return 0


def recipe_text(r: dict[str, Any]) -> str:
    """A recipe as an operator reads it."""
    return (
        f"{r['preset']} {r['hook_type']} {r['scene_count']} scenes wpm={r['narration_wpm_bucket']} "
        f"captions={r['caption_density_bucket']} ending={r['ending_type']}"
    )


def _render_recipes(p: dict[str, Any]) -> str:
    if not p["recipes"]:
        return f"no recipes for {p['project_id']} yet: run `learning-loop backfill --project {p['project_id']}`"
    head = f"top recipes of {p['project_id']}" + (
        f" as of partition {p['partition_date']}" if p["partition_date"] else " (no recipe stats yet; registry only)"
    )
    lines = [head, f"{'#':>2} {'score':>6} {'avg':>6} {'best':>6} {'scored':>6} {'used':>5}  recipe"]
    for i, r in enumerate(p["recipes"], start=1):
        recipe = recipe_text(r)
        lines.append(
            f"{i:>2} {fmt(r.get('score')):>6} {fmt(r.get('avg_reward')):>6} {fmt(r.get('best_reward')):>6} "
            f"{fmt(r.get('scored_videos')):>6} {fmt(r.get('times_used')):>5}  {recipe}"
        )
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    wh = warehouse(args)
    payload = stats_view(wh, args.project)
    payload.update(planning_stats(wh, args.project))
    emit(args, payload, _render_stats)
    return 0


def _render_stats(p: dict[str, Any]) -> str:
    latest = p["latest"]
    lines = [
        f"project {p['project_id']}",
        f"  videos: {p['videos']} ({p['videos_with_recipe']} with recipe, {p['manual_videos']} manual), "
        f"published {p['first_published_at']} .. {p['last_published_at']}",
        f"  metric snapshots: {p['metric_snapshots']}; recipes registered: {p['recipes']}",
    ]
    if latest["partition_date"]:
        lines.append(
            f"  latest partition {latest['partition_date']}: {latest['scored_videos']} scored videos; mean reward "
            f"of the last 7 days' videos {fmt(latest['mean_reward_last_7d'])} (7 days before: "
            f"{fmt(latest['mean_reward_prior_7d'])}; rewards are percentiles, 0.5 on average over the window)"
        )
        if latest["top_recipe"]:
            top = latest["top_recipe"]
            lines.append(
                f"  top recipe (as ranked by `recipes`): {recipe_text(top)} — score {fmt(top['score'])}, "
                f"avg reward {fmt(top['avg_reward'])} over {top['scored_videos']} videos"
            )
    else:
        lines.append("  no recipe stats yet: run `learning-loop update-stats --date D` or `backfill`")
    if "batches" in p:
        b, e = p["batches"], p["experiments"]
        lines.append(
            f"  batches: {b['batches']} ({b['jobs_created']} jobs, {b['jobs_completed']} completed; "
            f"success rate {fmt(b['batch_success_rate'])}, explore share {fmt(b['explore_share'])})"
        )
        lines.append(f"  experiments: {e['running']} running, {e['completed']} completed, winners {e['winners']}")
    for status, counts in p["ingestion"].items():
        lines.append(
            f"  ingestion ({status}): {counts['files']} files, {counts['rows_loaded']} rows loaded, "
            f"{counts['rows_quarantined']} quarantined"
        )
    return "\n".join(lines)


def register(add: AddCommand) -> None:
    p = add("recipes", cmd_recipes, "top recipes of a project")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--limit", type=int, default=20, help="how many recipes to list (default 20)")
    p = add("stats", cmd_stats, "overall learning-loop numbers of a project")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
