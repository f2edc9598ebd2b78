"""Learning-quality benchmark (issue 5): does the platform learn faster than the seeds' policy?

Runs the closed-loop simulator (``learning-loop simulate``) for several seeds —
the real platform planning through Dagster against a hidden world — and prints,
per seed and pooled, the cumulative regret of the platform, the seeds' fixed
policy and uniform-random recipes, their ratios, and the last week's mean true
reward against the oracle's.

Targets: platform regret <= 0.5 x the seeds' policy, and the platform's last
7 days' mean true reward >= 90 % of the oracle's.

    python bench/bench_learning.py                          # 60 days, 5 jobs/day, seeds 1 2 3
    python bench/bench_learning.py --days 20 --seeds 1 --json

Each seed runs in its own folder under ``--home`` (default a temporary
directory) with its own DuckDB warehouse and Dagster instance; ``--fast`` is
always on (the simulation_report asset is materialised once per seed).
Takes roughly 6-10 s per simulated day on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGRET_TARGET = 0.5
ORACLE_SHARE_TARGET = 0.9


def run_seed(seed: int, days: int, jobs: int, warmup: int, home: Path) -> dict:
    os.environ["LEARNING_LOOP_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    os.environ.pop("LEARNING_LOOP_WAREHOUSE_URL", None)
    from learning_loop.cli import _quiet_dagster_warnings
    from learning_loop.simulate.runner import Simulation, SimulationConfig

    _quiet_dagster_warnings()

    def say(message: str) -> None:
        print(f"  [seed {seed}] {message}", file=sys.stderr, flush=True)

    sim = Simulation(SimulationConfig(days=days, seed=seed, jobs_per_day=jobs, warmup_days=warmup, fast=True), say)
    result = sim.run()
    rows = result.rows
    tail = rows[-7:]
    oracle = float(rows[-1]["oracle_reward"])

    def tail_mean(prefix: str) -> float:
        return sum(float(r[f"{prefix}mean_true_reward"]) for r in tail) / len(tail)

    last = rows[-1]
    return {
        "seed": seed,
        "oracle_reward": oracle,
        "regret": {
            "platform": float(last["cumulative_regret"]),
            "seeds_policy": float(last["seeds_policy_cumulative_regret"]),
            "uniform": float(last["uniform_cumulative_regret"]),
        },
        "last_week_mean": {
            "platform": tail_mean(""),
            "seeds_policy": tail_mean("seeds_policy_"),
            "uniform": tail_mean("uniform_"),
        },
        "experiments": {
            "started": int(last["experiments_started"]),
            "decided": int(last["experiments_decided"]),
            "correct": int(last["verdicts_correct"]),
            "inconclusive": int(last["experiments_inconclusive"]),
        },
        "explore_share": sum(float(r["explore_share"]) for r in rows) / len(rows),
        "videos": result.videos,
        "report_csv": str(result.csv_path),
        "regret_png": str(result.png_path),
        "seconds": round(result.seconds, 1),
        "job_seconds": {k: round(v, 1) for k, v in result.job_seconds.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--jobs-per-day", type=int, default=5)
    parser.add_argument("--warmup-days", type=int, default=7)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--home", default="", help="scratch folder (default: a new temporary directory)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ll_bench_learning_"))
    started = time.monotonic()
    results = []
    for seed in args.seeds:
        print(f"seed {seed}: {args.days} days x {args.jobs_per_day} jobs …", file=sys.stderr, flush=True)
        results.append(run_seed(seed, args.days, args.jobs_per_day, args.warmup_days, root / f"seed-{seed}"))

    def total(key: str, policy: str) -> float:
        return sum(r[key][policy] for r in results)

    pooled = {p: total("regret", p) for p in ("platform", "seeds_policy", "uniform")}
    ratio_seeds = pooled["platform"] / pooled["seeds_policy"]
    ratio_uniform = pooled["platform"] / pooled["uniform"]
    share = sum(r["last_week_mean"]["platform"] / r["oracle_reward"] for r in results) / len(results)
    from learning_loop.simulate.report import gap_by_factor

    all_videos = [v for r in results for v in r.pop("videos")]
    gaps = {"all_days": gap_by_factor(all_videos), "last_7_days": gap_by_factor(all_videos, last_days=7)}
    summary = {
        "days": args.days,
        "jobs_per_day": args.jobs_per_day,
        "seeds": args.seeds,
        "per_seed": results,
        "pooled_regret": pooled,
        "ratio_platform_vs_seeds_policy": ratio_seeds,
        "ratio_platform_vs_uniform": ratio_uniform,
        "ratio_seeds_policy_vs_uniform": pooled["seeds_policy"] / pooled["uniform"],
        "last_week_share_of_oracle": share,
        "logit_gap_by_factor": gaps,
        "targets_met": {"regret": ratio_seeds <= REGRET_TARGET, "last_week": share >= ORACLE_SHARE_TARGET},
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"learning benchmark: {args.days} simulated days x {args.jobs_per_day} jobs/day, seeds {args.seeds}")
    for r in results:
        rg, lw, o = r["regret"], r["last_week_mean"], r["oracle_reward"]
        e = r["experiments"]
        print(
            f"seed {r['seed']}: regret platform {rg['platform']:.2f} | seeds' policy {rg['seeds_policy']:.2f} | "
            f"uniform {rg['uniform']:.2f}  (platform/seeds {rg['platform'] / rg['seeds_policy']:.2f}x, "
            f"platform/uniform {rg['platform'] / rg['uniform']:.2f}x); last week mean true reward platform "
            f"{lw['platform']:.3f} ({lw['platform'] / o:.1%} of oracle {o:.3f}), seeds' policy {lw['seeds_policy']:.3f} "
            f"({lw['seeds_policy'] / o:.1%}), uniform {lw['uniform']:.3f} ({lw['uniform'] / o:.1%}); experiments "
            f"{e['started']} started, {e['decided']} decided, {e['correct']} correct, {e['inconclusive']} inconclusive; "
            f"{r['seconds']:.0f}s"
        )
    print(
        f"pooled regret: platform {pooled['platform']:.2f}, seeds' policy {pooled['seeds_policy']:.2f}, "
        f"uniform {pooled['uniform']:.2f}"
    )
    print(
        f"ratios: platform/seeds' policy {ratio_seeds:.2f}x (target <= {REGRET_TARGET}x: "
        f"{'met' if ratio_seeds <= REGRET_TARGET else 'MISSED'}), platform/uniform {ratio_uniform:.2f}x, "
        f"seeds' policy/uniform {summary['ratio_seeds_policy_vs_uniform']:.2f}x"
    )
    print(
        f"last week's mean true reward: platform {share:.1%} of the oracle on average (target >= "
        f"{ORACLE_SHARE_TARGET:.0%}: {'met' if share >= ORACLE_SHARE_TARGET else 'MISSED'})"
    )
    print("where the regret comes from: mean logit gap to the oracle per video and factor (all days | last 7 days)")
    factors = list(gaps["all_days"]["platform"])
    print("  " + " " * 26 + " ".join(f"{f.replace('_bucket', '')[:12]:>12}" for f in factors))
    for policy in ("platform", "seeds_policy", "uniform"):
        for span in ("all_days", "last_7_days"):
            values = gaps[span][policy]
            label = f"{policy} ({'all' if span == 'all_days' else 'last 7'})"
            print(f"  {label:<26}" + " ".join(f"{values[f]:12.3f}" for f in factors))
    print(f"total {summary['seconds']:.0f}s; reports under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
