"""`learning-loop simulate`: run the closed-loop simulator against the real platform (issue 5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from learning_loop.cli.common import AddCommand, emit, settings_of
from learning_loop.simulate.session import simulate


TITLE = "watching the loop learn"

def _say(message: str) -> None:
    print(message, flush=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    result = simulate(
        settings_of(args),
        days=args.days,
        seed=args.seed,
        jobs_per_day=args.jobs_per_day,
        warmup_days=args.warmup_days,
        out=Path(args.out) if args.out else None,
        fast=args.fast,
        say=(lambda m: print(m, file=sys.stderr, flush=True)) if args.json else _say,
    )
    payload = {
        "seed": args.seed,
        "days": args.days,
        "report_csv": str(result.csv_path),
        "regret_png": str(result.png_path),
        "simulation_home": str(result.home),
        "seconds": round(result.seconds, 1),
        "last_day": result.rows[-1] if result.rows else None,
    }
    if args.json:
        emit(args, payload, str)
    return 0


def register(add: AddCommand) -> None:
    p = add("simulate", cmd_simulate, "run the closed-loop simulator: a hidden world the real platform plans against")
    p.add_argument("--days", type=int, default=14, help="simulated days after the warm-up (default 14)")
    p.add_argument("--seed", type=int, default=1, help="seed of the world, topics, planner and baselines (default 1)")
    p.add_argument("--jobs-per-day", type=int, default=5, help="plan-next count per day (default 5)")
    p.add_argument("--warmup-days", type=int, default=7, help="days of hand-made videos before the loop (default 7)")
    p.add_argument("--out", default="", help="folder for report.csv and regret.png (default: the simulation folder)")
    p.add_argument(
        "--fast", action="store_true", help="materialise simulation_report once at the end instead of every day"
    )
