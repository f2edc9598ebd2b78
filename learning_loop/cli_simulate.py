"""`learning-loop simulate`: run the closed-loop simulator against the real platform (issue 5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    from learning_loop.cli import _emit

    result = simulate(
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
        _emit(args, payload, str)
    return 0


def simulate(
    *,
    days: int = 14,
    seed: int = 1,
    jobs_per_day: int = 5,
    warmup_days: int = 7,
    out: Path | None = None,
    fast: bool = False,
    say=_say,
):
    """Run one simulation with progress lines and the final summary; returns the SimulationResult."""
    from learning_loop import settings
    from learning_loop.simulate.report import summary_lines
    from learning_loop.simulate.runner import SimulationConfig, Simulation

    config = SimulationConfig(
        days=days, seed=seed, jobs_per_day=jobs_per_day, warmup_days=warmup_days, out_dir=out, fast=fast
    )
    sim = Simulation(config, progress=say)
    say(
        f"simulation seed {seed}: {days} days × {jobs_per_day} jobs, {warmup_days} warm-up days, from {sim.start}; "
        f"runtime folder {sim.home} (its own DuckDB warehouse), Dagster instance {settings.dagster_home()}"
    )
    o = sim.oracle
    say(
        f"hidden oracle: {o.recipe['preset']}/{o.recipe['hook_type']}/{o.recipe['scene_count']}/"
        f"{o.recipe['narration_wpm_bucket']}/{o.recipe['caption_density_bucket']}/{o.recipe['ending_type']}, "
        f"{o.content_type} at {o.hour:02d}h → true reward {o.reward:.3f}"
    )
    result = sim.run()
    for line in summary_lines(result.rows):
        say(line)
    say(f"report: {result.csv_path}")
    say(f"plot:   {result.png_path}")
    say(
        f"done in {result.seconds:.1f}s. The runs (tag learning_loop/simulation=seed-{seed}) and the simulation_report "
        "asset's plotted metadata are in the web UI: `learning-loop ui` → http://127.0.0.1:3000"
    )
    return result


def register(add) -> None:
    p = add("simulate", cmd_simulate, "run the closed-loop simulator: a hidden world the real platform plans against")
    p.add_argument("--days", type=int, default=14, help="simulated days after the warm-up (default 14)")
    p.add_argument("--seed", type=int, default=1, help="seed of the world, topics, planner and baselines (default 1)")
    p.add_argument("--jobs-per-day", type=int, default=5, help="plan-next count per day (default 5)")
    p.add_argument("--warmup-days", type=int, default=7, help="days of hand-made videos before the loop (default 7)")
    p.add_argument("--out", default="", help="folder for report.csv and regret.png (default: the simulation folder)")
    p.add_argument(
        "--fast", action="store_true", help="materialise simulation_report once at the end instead of every day"
    )
