"""`learning-loop`: the operator's command (SPEC §8), mirroring the runbooks.

State-changing commands run as Dagster runs on the configured instance, so
they show in the web UI. Read-only views query the warehouse. Bad input gives
one line on stderr, exit status 2, and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from learning_loop import settings

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


class BadInput(ValueError):
    """The operator's input is wrong; nothing was changed."""


def _warehouse():
    from learning_loop.warehouse.backend import open_warehouse

    wh = open_warehouse(settings.warehouse_url())
    wh.ensure_schema()
    return wh


def _emit(args: argparse.Namespace, payload: Any, render: Callable[[Any], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(render(payload))


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def _partition_date(value: str) -> date:
    from learning_loop.domain.asof import parse_partition_date

    try:
        day = parse_partition_date(value)
    except ValueError as exc:
        raise BadInput(f"--date: {exc}") from None
    first = date.fromisoformat(settings.start_date())
    if day < first:
        raise BadInput(f"--date {value} is before the first partition {first} (LEARNING_LOOP_START_DATE)")
    if day > _yesterday():
        raise BadInput(f"--date {value} is not complete yet: the latest partition is {_yesterday()}")
    return day


def _ui_hint(run_id: str) -> str:
    return f"run {run_id} — see it with `learning-loop ui` (http://127.0.0.1:3000/runs/{run_id})"


# --------------------------------------------------------------------------- commands


def _check_warehouse_url() -> None:
    """An unusable LEARNING_LOOP_WAREHOUSE_URL is a one-line error before any run is launched."""
    from learning_loop.warehouse.backend import open_warehouse

    open_warehouse(settings.warehouse_url())  # raises WarehouseError; connects to nothing


def cmd_ingest(args: argparse.Namespace) -> int:
    from learning_loop.runner import run_job

    _check_warehouse_url()
    outcome = run_job("ingest_landing")
    summary = {k: v for k, v in outcome.materializations.get("ingested_files", {}).items() if k != "files"}
    payload = {"run_id": outcome.run_id, **summary}
    _emit(
        args,
        payload,
        lambda p: (
            f"files: {p.get('files_loaded', 0)} loaded, {p.get('files_rejected', 0)} rejected, "
            f"{p.get('files_skipped', 0)} already loaded\n"
            f"rows: {p.get('rows_read', 0)} read = {p.get('rows_loaded', 0)} loaded + "
            f"{p.get('rows_quarantined', 0)} quarantined\n{_ui_hint(p['run_id'])}"
        ),
    )
    return 0


def _reward_run_config(days: int) -> dict[str, Any]:
    config = {"config": {"window_days": days}}
    return {"ops": {"percentile_rewards": config, "recipe_stats": config, "outcomes": config}}


def cmd_update_stats(args: argparse.Namespace) -> int:
    from learning_loop.runner import run_job

    if not 1 <= args.days <= 3650:
        raise BadInput(f"--days must be between 1 and 3650, got {args.days}")
    day = _partition_date(args.date)
    _check_warehouse_url()
    outcome = run_job("update_stats", partition_key=day.isoformat(), run_config=_reward_run_config(args.days))
    payload = {
        "run_id": outcome.run_id,
        "partition_date": day.isoformat(),
        "window_days": args.days,
        "assets": outcome.materializations,
    }
    _emit(args, payload, lambda p: _render_update(p))
    return 0


def _render_update(p: dict[str, Any]) -> str:
    lines = [f"partition {p['partition_date']} (window {p['window_days']} days)"]
    for asset, meta in p["assets"].items():
        numbers = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in meta.items()
            if k not in {"last_partition", "partitions_in_run"} and not k.startswith("dagster/")
        )
        lines.append(f"  {asset}: {numbers}")
    lines.append(_ui_hint(p["run_id"]))
    return "\n".join(lines)


def cmd_backfill(args: argparse.Namespace) -> int:
    from learning_loop.runner import run_job
    from learning_loop.views import data_date_range, require_project

    wh = _warehouse()
    require_project(wh, args.project)
    recipes = run_job("backfill_recipes")
    payload: dict[str, Any] = {
        "project_id": args.project,
        "recipes_run_id": recipes.run_id,
        "recipes": int(
            wh.scalar("SELECT count(*) FROM recipes WHERE project_id = :p", {"p": args.project})
        ),
    }
    span = data_date_range(wh, args.project)
    first = max(span[0], date.fromisoformat(settings.start_date())) if span else None
    last = min(span[1], _yesterday()) if span else None
    if not args.no_stats and first and last and first <= last:
        print(f"materialising daily partitions {first} .. {last} in one run …", file=sys.stderr)
        stats = run_job(
            "update_stats",
            partition_range=(first.isoformat(), last.isoformat()),
            run_config=_reward_run_config(args.days),
        )
        payload.update({"stats_run_id": stats.run_id, "partitions": [first.isoformat(), last.isoformat()]})
    _emit(
        args,
        payload,
        lambda p: f"{p['recipes']} recipes registered for {p['project_id']}"
        + (f"; partitions {p['partitions'][0]} .. {p['partitions'][1]} materialised" if "partitions" in p else "")
        + f"\n{_ui_hint(p.get('stats_run_id', p['recipes_run_id']))}",
    )
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from learning_loop.views import recipes_view

    payload = recipes_view(_warehouse(), args.project, limit=args.limit)
    _emit(args, payload, _render_recipes)
    return 0


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _render_recipes(p: dict[str, Any]) -> str:
    if not p["recipes"]:
        return f"no recipes for {p['project_id']} yet: run `learning-loop backfill --project {p['project_id']}`"
    head = f"top recipes of {p['project_id']}" + (
        f" as of partition {p['partition_date']}" if p["partition_date"] else " (no recipe stats yet; registry only)"
    )
    lines = [head, f"{'#':>2} {'score':>6} {'avg':>6} {'best':>6} {'scored':>6} {'used':>5}  recipe"]
    for i, r in enumerate(p["recipes"], start=1):
        recipe = (
            f"{r['preset']} {r['hook_type']} {r['scene_count']} scenes wpm={r['narration_wpm_bucket']} "
            f"captions={r['caption_density_bucket']} ending={r['ending_type']}"
        )
        lines.append(
            f"{i:>2} {_fmt(r.get('score')):>6} {_fmt(r.get('avg_reward')):>6} {_fmt(r.get('best_reward')):>6} "
            f"{_fmt(r.get('scored_videos')):>6} {_fmt(r.get('times_used')):>5}  {recipe}"
        )
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    from learning_loop.views import stats_view
    from learning_loop.views_planning import planning_stats

    wh = _warehouse()
    payload = stats_view(wh, args.project)
    payload.update(planning_stats(wh, args.project))
    _emit(args, payload, _render_stats)
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
            f"  latest partition {latest['partition_date']}: {latest['scored_videos']} scored videos, "
            f"mean reward {_fmt(latest['mean_reward'])}"
        )
        if latest["top_recipe"]:
            top = latest["top_recipe"]
            lines.append(
                f"  top recipe {top['recipe_hash'][:12]}… avg reward {_fmt(top['avg_reward'])} over {top['scored_videos']} videos"
            )
    else:
        lines.append("  no recipe stats yet: run `learning-loop update-stats --date D` or `backfill`")
    if "batches" in p:
        b, e = p["batches"], p["experiments"]
        lines.append(
            f"  batches: {b['batches']} ({b['jobs_created']} jobs, {b['jobs_completed']} completed; "
            f"success rate {_fmt(b['batch_success_rate'])}, explore share {_fmt(b['explore_share'])})"
        )
        lines.append(f"  experiments: {e['running']} running, {e['completed']} completed, winners {e['winners']}")
    for status, counts in p["ingestion"].items():
        lines.append(
            f"  ingestion ({status}): {counts['files']} files, {counts['rows_loaded']} rows loaded, "
            f"{counts['rows_quarantined']} quarantined"
        )
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    from learning_loop.demo import run_demo

    if args.days < 1:
        raise BadInput(f"--days must be at least 1, got {args.days}")
    return run_demo(fresh=args.fresh, simulation=not args.no_simulation, days=args.days)


def cmd_ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from learning_loop.instance import ensure_dagster_home

    ensure_dagster_home()
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    argv = ["dagster", "dev", "-w", str(workspace), "-p", str(args.port)]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} {' '.join(argv)}", file=sys.stderr)
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="learning-loop", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str, json_flag: bool = True):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    add("ingest", cmd_ingest, "load new landing files (a Dagster run)")
    p = add("update-stats", cmd_update_stats, "materialise outcomes, rewards and recipe stats for partition D")
    p.add_argument("--date", required=True, help="partition date YYYY-MM-DD (as of D+1 00:00 UTC)")
    p.add_argument("--days", type=int, default=30, help="reward window in days (default 30)")
    p = add("backfill", cmd_backfill, "register recipes from existing videos and materialise their daily partitions")
    p.add_argument("--project", required=True)
    p.add_argument("--days", type=int, default=30, help="reward window in days (default 30)")
    p.add_argument("--no-stats", action="store_true", help="only register recipes")
    p = add("recipes", cmd_recipes, "top recipes of a project")
    p.add_argument("--project", required=True)
    p.add_argument("--limit", type=int, default=20)
    p = add("stats", cmd_stats, "overall learning-loop numbers of a project")
    p.add_argument("--project", required=True)
    p = add(
        "demo", cmd_demo, "ingest the sample data, run the daily loop, then a 14-day closed-loop simulation",
        json_flag=False,
    )
    p.add_argument("--fresh", action="store_true", help="start from an empty runtime folder")
    p.add_argument("--no-simulation", action="store_true", help="skip the closed-loop simulation at the end")
    p.add_argument("--days", type=int, default=14, help="days of the closed-loop simulation (default 14)")
    p = add("ui", cmd_ui, "open the Dagster web UI on the configured instance", json_flag=False)
    p.add_argument("--port", type=int, default=3000)
    from learning_loop import cli_planning

    cli_planning.register(add)
    from learning_loop import cli_simulate

    cli_simulate.register(add)
    from learning_loop import cli_models

    cli_models.register(add)
    return parser


def _quiet_dagster_warnings() -> None:
    """Beta/preview notices about APIs we chose deliberately are noise to an operator."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def main(argv: Sequence[str] | None = None) -> int:
    from learning_loop.runner import RunFailed
    from learning_loop.views import UnknownProject
    from learning_loop.warehouse.backend import WarehouseError

    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_dagster_warnings()
    try:
        return args.func(args)
    except (BadInput, UnknownProject, WarehouseError, ValueError) as exc:
        print(f"learning-loop: error: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunFailed as exc:
        print(f"learning-loop: error: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_RUN_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
