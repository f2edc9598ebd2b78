"""Operator commands of runbook 003 (active learning): labeled-data stats and feed loading.

    learning-loop active stats [--as-of TS] [--json]      runbook "Check Labeled Data Pipeline"
    learning-loop active growth [--days 30] [--as-of TS] [--json]
    learning-loop active load [--json]                   the `load_feeds` job, at once
"""

from __future__ import annotations

import argparse
from typing import Any

from learning_loop.cli.common import AddCommand, BadInput, check_warehouse_url, emit, launch, ui_hint, warehouse
from learning_loop.domain.active_learning.examples import red_flags
from learning_loop.settings import FEED_LANDING_KINDS
from learning_loop.stores.planning import parse_as_of
from learning_loop.views.active_learning import label_rows, labeled_growth_view, labeled_stats_view


def _counts(mapping: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "none"


def cmd_stats(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    wh = warehouse(args)
    payload = labeled_stats_view(wh, as_of)
    if getattr(args, "json", False):
        emit(args, payload, str)
        return 0
    flags = red_flags(label_rows(wh, as_of), as_of)
    lines = [
        f"labeled data as of {as_of:%Y-%m-%dT%H:%M:%SZ}",
        f"  total:     {payload['total']} label rows ({payload['recent_7d']} in the last 7 days)",
        f"  by source: {_counts(payload['by_source'])}",
        f"  by agent:  {_counts(payload['by_agent'])}",
    ]
    if payload["total"] == 0:
        lines.append("  no labels yet: put files into $LEARNING_LOOP_HOME/landing/labels/ and run `learning-loop active load`")
    lines.append("red flags:" if flags else "red flags: none")
    lines.extend(f"  - {f.message}" for f in flags)
    print("\n".join(lines))
    return 0


def _render_growth(p: dict[str, Any]) -> str:
    sources = p["sources"]
    lines = [f"label rows per source per day, {p['days']} days before {p['as_of']}",
             f"{'day':<10} " + " ".join(f"{s:>9}" for s in sources) + f" {'all':>5}"]
    for row in p["rows"]:
        lines.append(f"{row['day']:<10} " + " ".join(f"{row[s]:>9}" for s in sources) + f" {sum(row[s] for s in sources):>5}")
    return "\n".join(lines)


def cmd_growth(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 366:
        raise BadInput(f"--days must be between 1 and 366, got {args.days}")
    as_of = parse_as_of(args.as_of)
    emit(args, labeled_growth_view(warehouse(args), as_of, days=args.days), _render_growth)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    check_warehouse_url(args)
    outcome = launch(args, "load_feeds")
    keys = ("files_loaded", "files_rejected", "files_skipped", "rows_read", "rows_loaded", "rows_quarantined")
    feeds = {
        kind: {k: outcome.materializations.get(kind, {}).get(k, 0) for k in keys} for kind in FEED_LANDING_KINDS
    }
    payload = {"run_id": outcome.run_id, "feeds": feeds}

    def render(p: dict[str, Any]) -> str:
        lines = [
            f"{kind}: files {c['files_loaded']} loaded, {c['files_rejected']} rejected, {c['files_skipped']} already "
            f"loaded; rows {c['rows_read']} read = {c['rows_loaded']} loaded + {c['rows_quarantined']} quarantined"
            for kind, c in p["feeds"].items()
        ]
        return "\n".join([*lines, ui_hint(p["run_id"])])

    emit(args, payload, render)
    return 0


def register(add: AddCommand) -> None:
    area = add("active", cmd_stats, "active learning: labeled-data stats and feed loading (runbook 003)", json_flag=False)
    sub = area.add_subparsers(dest="active_command", required=True, metavar="COMMAND")

    def command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    p = command("stats", cmd_stats, "labeled examples: total, by source, by agent, last 7 days (and red flags)")
    p.add_argument("--as-of", help="ISO-8601 moment (default now): count labels labeled before it")
    p = command("growth", cmd_growth, "label rows per source per day (the runbook's labeled data growth panel)")
    p.add_argument("--days", type=int, default=30, help="days before --as-of (default 30)")
    p.add_argument("--as-of", help="ISO-8601 moment (default now)")
    command("load", cmd_load, "load new labels, judgments and decisions files now (Dagster job load_feeds)")
