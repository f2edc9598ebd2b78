"""The daily loop of runbook 000: ingest, update-stats, backfill (each a Dagster run)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from learning_loop.cli.common import (
    AddCommand,
    BadInput,
    check_warehouse_url,
    emit,
    launch,
    partition_date,
    settings_of,
    ui_hint,
    warehouse,
    yesterday,
)
from learning_loop.views.common import require_project
from learning_loop.views.recipes import data_date_range


TITLE = "the daily loop (runbook 000)"

def cmd_ingest(args: argparse.Namespace) -> int:
    check_warehouse_url(args)
    outcome = launch(args, "ingest_landing", progress="ingesting the landing zone")
    summary = {k: v for k, v in outcome.materializations.get("ingested_files", {}).items() if k != "files"}
    payload = {"run_id": outcome.run_id, **summary}
    emit(
        args,
        payload,
        lambda p: (
            f"files: {p.get('files_loaded', 0)} loaded, {p.get('files_rejected', 0)} rejected, "
            f"{p.get('files_skipped', 0)} already loaded"
            + (f", {p['files_pending']} still being written (loaded by a later run)" if p.get("files_pending") else "")
            + "\n"
            f"rows: {p.get('rows_read', 0)} read = {p.get('rows_loaded', 0)} loaded + "
            f"{p.get('rows_quarantined', 0)} quarantined\n{ui_hint(p['run_id'])}"
        ),
    )
    return 0


def _reward_run_config(days: int) -> dict[str, Any]:
    config = {"config": {"window_days": days}}
    return {"ops": {"percentile_rewards": config, "recipe_stats": config, "outcomes": config}}


def cmd_update_stats(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 3650:
        raise BadInput(f"--days must be between 1 and 3650, got {args.days}")
    day = partition_date(args, args.date)
    check_warehouse_url(args)
    outcome = launch(
        args, "update_stats", partition_key=day.isoformat(), run_config=_reward_run_config(args.days),
        progress=f"update_stats {day}",
    )
    payload = {
        "run_id": outcome.run_id,
        "partition_date": day.isoformat(),
        "window_days": args.days,
        "assets": outcome.materializations,
    }
    emit(args, payload, lambda p: _render_update(p))
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
    lines.append(ui_hint(p["run_id"]))
    return "\n".join(lines)


def cmd_backfill(args: argparse.Namespace) -> int:
    wh = warehouse(args)
    require_project(wh, args.project)
    recipes = launch(args, "backfill_recipes")
    payload: dict[str, Any] = {
        "project_id": args.project,
        "recipes_run_id": recipes.run_id,
        "recipes": int(
            wh.scalar("SELECT count(*) FROM recipes WHERE project_id = :p", {"p": args.project})
        ),
    }
    span = data_date_range(wh, args.project)
    first = max(span[0], date.fromisoformat(settings_of(args).start_date)) if span else None
    last = min(span[1], yesterday()) if span else None
    if not args.no_stats and first and last and first <= last:
        print(f"materialising daily partitions {first} .. {last} in one run …", file=sys.stderr)
        stats = launch(
            args,
            "update_stats",
            partition_range=(first.isoformat(), last.isoformat()),
            run_config=_reward_run_config(args.days),
        )
        payload.update({"stats_run_id": stats.run_id, "partitions": [first.isoformat(), last.isoformat()]})
    emit(
        args,
        payload,
        lambda p: f"{p['recipes']} recipes registered for {p['project_id']}"
        + (f"; partitions {p['partitions'][0]} .. {p['partitions'][1]} materialised" if "partitions" in p else "")
        + f"\n{ui_hint(p.get('stats_run_id', p['recipes_run_id']))}",
    )
    return 0


def register(add: AddCommand) -> None:
    add("ingest", cmd_ingest, "load new landing files (a Dagster run)")
    p = add("update-stats", cmd_update_stats, "materialise outcomes, rewards and recipe stats for partition D")
    p.add_argument("--date", required=True, help="partition date YYYY-MM-DD (as of D+1 00:00 UTC)")
    p.add_argument("--days", type=int, default=30, help="reward window in days (default 30)")
    p = add("backfill", cmd_backfill, "register recipes from existing videos and materialise their daily partitions")
    p.add_argument("--project", required=True, help="project id (the videos' project_id)")
    p.add_argument("--days", type=int, default=30, help="reward window in days (default 30)")
    p.add_argument("--no-stats", action="store_true", help="only register recipes")
