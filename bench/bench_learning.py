"""Learning-quality benchmark (issues 5 and 12): does the platform learn faster than the seeds' policy?

Runs the closed-loop simulator (``learning-loop simulate``) — the real platform
planning through Dagster against a hidden world — for every (jobs-per-day
volume, seed) pair, each in its own folder and its own process, and prints per
volume:

- per seed: cumulative regret of the platform, the seeds' fixed policy and
  uniform-random recipes, their ratios, the last week's mean true reward as a
  share of the oracle's, the platform's experiments and its explore share;
- pooled over the seeds: the regrets and their ratios, the spread over seeds
  (mean, sd, min, max) of the per-seed ratio platform / seeds' policy and of
  the per-seed last-week share of the oracle, experiments started / decided /
  correct / inconclusive with the verdict accuracy (correct / decided, "n/a"
  when none was decided), the mean explore share, and where the regret comes
  from (mean logit gap to the oracle per video and factor);
- the targets, each "met" or "MISSED" with its margin: pooled platform regret
  <= 0.5 x the seeds' policy's, and the mean over seeds of the platform's last
  7 days' mean true reward >= 90 % of the oracle's.

    python bench/bench_learning.py                      # 60 days x (5 and 3 jobs/day) x seeds 1-5, 2 at a time
    python bench/bench_learning.py --markdown           # the same, as README tables plus the command line
    python bench/bench_learning.py --days 20 --jobs-per-day 5 --seeds 1 2 --json
    python bench/bench_learning.py --days 3 --jobs-per-day 3 --seeds 1 2   # smoke test, about 20 s

Every run gets ``<home>/jobs-<n>/seed-<s>`` (default ``--home``: a new
temporary directory) as its ``LEARNING_LOOP_HOME``; the simulation lives in
``simulation/seed-<s>/`` under it, with its own DuckDB warehouse, Dagster
instance and ``report/`` (``report.csv``, ``videos.csv``, ``regret.png``).
Every run is its own process, started with the "spawn" method (a fresh
interpreter, no state copied from this one) and, on Python >= 3.11, ended
after its run; the environment is set inside it. ``--workers`` runs go at
once (default: the machine's cores). ``--fast`` is always on (the
simulation_report asset is materialised once per run). A line goes to stderr
when each run starts and when it ends, with its time (``--verbose``: one per
simulated day too); the report goes to stdout. A run that fails is listed and
left out of the figures, and the exit status is 1. Same seed, same figures.

Duration: on an idle machine a run costs about 5 s of start-up and warm-up,
then 3.5-5 s per simulated day over the first days (measured with two runs at
once, 3 and 5 jobs a day alike), more as the history grows: about 6-10 s per
day on average over 60 days. The default (2 volumes x 5 seeds x 60 days = 600
simulated days on 2 workers) therefore takes roughly 30-50 minutes of both
cores, and up to twice that while other work shares the machine; the smoke
test above about 20 s per volume.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGRET_TARGET = 0.5
ORACLE_SHARE_TARGET = 0.9
LAST_DAYS = 7
POLICIES = ("platform", "seeds_policy", "uniform")
PREFIX = {"platform": "", "seeds_policy": "seeds_policy_", "uniform": "uniform_"}
#: Keys of the simulator's daily report rows (learning_loop/simulate/report.py COLUMNS) this benchmark reads.
REQUIRED_KEYS = (
    "oracle_reward", "explore_share", "experiments_started", "experiments_decided", "verdicts_correct",
    "experiments_inconclusive",
    *(f"{PREFIX[p]}{k}" for p in POLICIES for k in ("mean_true_reward", "cumulative_regret")),
)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


# ---------------------------------------------------------------------------- one run (child process)
def run_one(jobs: int, seed: int, days: int, warmup: int, home: str, verbose: bool) -> dict[str, Any]:
    """One simulation in this (fresh, spawned) process; its environment is set here, before any import
    of the platform reads it. Returns the per-run figures plus every simulated video (for the gap table)."""
    root = Path(home)
    os.environ["LEARNING_LOOP_HOME"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster")
    os.environ.pop("LEARNING_LOOP_WAREHOUSE_URL", None)
    from learning_loop.cli import _quiet_dagster_warnings
    from learning_loop.simulate.runner import Simulation, SimulationConfig

    _quiet_dagster_warnings()
    tag = f"[{jobs}/day seed {seed}]"

    def say(message: str) -> None:
        if verbose:
            print(f"  {tag} {message}", file=sys.stderr, flush=True)

    print(f"  {tag} started (pid {os.getpid()})", file=sys.stderr, flush=True)
    config = SimulationConfig(days=days, seed=seed, jobs_per_day=jobs, warmup_days=warmup, fast=True)
    result = Simulation(config, say).run()
    rows = result.rows
    missing = [k for k in REQUIRED_KEYS if k not in rows[-1]]
    if missing:
        raise KeyError(f"the simulator's report rows lack {missing}; bench/bench_learning.py needs them")
    last, tail = rows[-1], rows[-LAST_DAYS:]
    oracle = float(last["oracle_reward"])
    regret = {p: float(last[f"{PREFIX[p]}cumulative_regret"]) for p in POLICIES}
    last_week = {p: float(np.mean([float(r[f"{PREFIX[p]}mean_true_reward"]) for r in tail])) for p in POLICIES}
    return {
        "jobs_per_day": jobs,
        "seed": seed,
        "oracle_reward": oracle,
        "regret": regret,
        "ratio_platform_vs_seeds_policy": _ratio(regret["platform"], regret["seeds_policy"]),
        "ratio_platform_vs_uniform": _ratio(regret["platform"], regret["uniform"]),
        "last_week_mean": last_week,
        "last_week_share_of_oracle": {p: last_week[p] / oracle for p in POLICIES},
        "experiments": {
            "started": int(last["experiments_started"]),
            "decided": int(last["experiments_decided"]),
            "correct": int(last["verdicts_correct"]),
            "inconclusive": int(last["experiments_inconclusive"]),
        },
        "explore_share": float(np.mean([float(r["explore_share"]) for r in rows])),
        "videos": result.videos,
        "report_csv": str(result.csv_path),
        "regret_png": str(result.png_path),
        "seconds": round(result.seconds, 1),
        "job_seconds": {k: round(v, 1) for k, v in result.job_seconds.items()},
    }


# ---------------------------------------------------------------------------- pooling
def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample sd (nan for one value), min and max over the seeds."""
    a = np.asarray(values, dtype=float)
    return {
        "mean": float(a.mean()),
        "sd": float(a.std(ddof=1)) if a.size > 1 else float("nan"),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def summarise_volume(jobs: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool one volume's runs (``videos`` are popped from them: they only feed the gap table)."""
    from learning_loop.simulate.report import gap_by_factor

    runs = sorted(runs, key=lambda r: r["seed"])
    videos = [v for r in runs for v in r.pop("videos")]
    pooled = {p: float(sum(r["regret"][p] for r in runs)) for p in POLICIES}
    ratio_seeds = _ratio(pooled["platform"], pooled["seeds_policy"])
    share = spread([r["last_week_share_of_oracle"]["platform"] for r in runs])
    kinds = ("started", "decided", "correct", "inconclusive")
    experiments = {k: int(sum(r["experiments"][k] for r in runs)) for k in kinds}
    decided = experiments["decided"]
    return {
        "jobs_per_day": jobs,
        "seeds": [r["seed"] for r in runs],
        "per_seed": runs,
        "pooled_regret": pooled,
        "ratio_platform_vs_seeds_policy": ratio_seeds,
        "ratio_platform_vs_uniform": _ratio(pooled["platform"], pooled["uniform"]),
        "ratio_seeds_policy_vs_uniform": _ratio(pooled["seeds_policy"], pooled["uniform"]),
        "spread_ratio_platform_vs_seeds_policy": spread([r["ratio_platform_vs_seeds_policy"] for r in runs]),
        "spread_last_week_share_of_oracle": share,
        "last_week_share_of_oracle_mean": {
            p: float(np.mean([r["last_week_share_of_oracle"][p] for r in runs])) for p in POLICIES
        },
        "experiments": experiments,
        "verdict_accuracy": experiments["correct"] / decided if decided else None,
        "explore_share_mean": float(np.mean([r["explore_share"] for r in runs])),
        "logit_gap_by_factor": {
            "all_days": gap_by_factor(videos),
            f"last_{LAST_DAYS}_days": gap_by_factor(videos, last_days=LAST_DAYS),
        },
        "targets": {
            "regret_ratio": {"target_max": REGRET_TARGET, "value": ratio_seeds,
                             "margin": REGRET_TARGET - ratio_seeds, "met": ratio_seeds <= REGRET_TARGET},
            "last_week_share": {"target_min": ORACLE_SHARE_TARGET, "value": share["mean"],
                                "margin": share["mean"] - ORACLE_SHARE_TARGET,
                                "met": share["mean"] >= ORACLE_SHARE_TARGET},
        },
        "run_seconds": float(sum(r["seconds"] for r in runs)),
    }


# ---------------------------------------------------------------------------- output
def _verdict(target: dict[str, Any], points: bool = False) -> str:
    margin = f"{target['margin'] * 100:+.1f} points" if points else f"{target['margin']:+.2f}"
    return f"{'met' if target['met'] else 'MISSED'}, margin {margin}"


def _fmt_spread(s: dict[str, float], pct: bool = False) -> str:
    f = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.2f}")
    sd = "n/a" if math.isnan(s["sd"]) else f(s["sd"])
    return f"mean {f(s['mean'])}, sd {sd}, min {f(s['min'])}, max {f(s['max'])}"


def _accuracy(v: dict[str, Any]) -> str:
    e = v["experiments"]
    return "n/a (none decided)" if v["verdict_accuracy"] is None else (
        f"{v['verdict_accuracy']:.0%} ({e['correct']}/{e['decided']})"
    )


def print_text(summary: dict[str, Any]) -> None:
    print(
        f"learning benchmark: {summary['days']} simulated days (+{summary['warmup_days']} warm-up) x "
        f"{summary['jobs_per_day']} jobs/day x seeds {summary['seeds']}, {summary['workers']} workers"
    )
    for v in summary["volumes"].values():
        print(f"\n== {v['jobs_per_day']} jobs/day, seeds {v['seeds']} ==")
        print(
            f"{'seed':>4} | {'regret: platform':>16} {'seeds':>7} {'uniform':>7} | {'p/seeds':>7} {'p/unif':>6} | "
            f"{'last ' + str(LAST_DAYS) + 'd % oracle: p':>20} {'seeds':>6} {'unif':>6} | "
            f"{'exp start/dec/ok/inc':>20} | {'explore':>7} | {'time':>5}"
        )
        for r in v["per_seed"]:
            rg, sh, e = r["regret"], r["last_week_share_of_oracle"], r["experiments"]
            counts = f"{e['started']}/{e['decided']}/{e['correct']}/{e['inconclusive']}"
            print(
                f"{r['seed']:>4} | {rg['platform']:16.2f} {rg['seeds_policy']:7.2f} {rg['uniform']:7.2f} | "
                f"{r['ratio_platform_vs_seeds_policy']:6.2f}x {r['ratio_platform_vs_uniform']:5.2f}x | "
                f"{sh['platform']:20.1%} {sh['seeds_policy']:6.1%} {sh['uniform']:6.1%} | {counts:>20} | "
                f"{r['explore_share']:7.1%} | {r['seconds']:4.0f}s"
            )
        pr, t, e = v["pooled_regret"], v["targets"], v["experiments"]
        means = v["last_week_share_of_oracle_mean"]
        print(
            f"pooled regret: platform {pr['platform']:.2f}, seeds' policy {pr['seeds_policy']:.2f}, "
            f"uniform {pr['uniform']:.2f}"
        )
        print(
            f"ratios: platform/seeds' policy {v['ratio_platform_vs_seeds_policy']:.2f}x (target <= {REGRET_TARGET}x: "
            f"{_verdict(t['regret_ratio'])}), platform/uniform {v['ratio_platform_vs_uniform']:.2f}x, "
            f"seeds' policy/uniform {v['ratio_seeds_policy_vs_uniform']:.2f}x"
        )
        print(f"  per-seed platform/seeds' policy: {_fmt_spread(v['spread_ratio_platform_vs_seeds_policy'])}")
        print(
            f"last {LAST_DAYS} days' mean true reward, share of the oracle: platform "
            f"{_fmt_spread(v['spread_last_week_share_of_oracle'], pct=True)} (target mean >= "
            f"{ORACLE_SHARE_TARGET:.0%}: {_verdict(t['last_week_share'], points=True)}); seeds' policy mean "
            f"{means['seeds_policy']:.1%}, uniform mean {means['uniform']:.1%}"
        )
        print(
            f"experiments: {e['started']} started, {e['decided']} decided, {e['correct']} correct, "
            f"{e['inconclusive']} inconclusive; verdict accuracy {_accuracy(v)}; mean explore share "
            f"{v['explore_share_mean']:.1%}"
        )
        print(f"where the regret comes from: mean logit gap to the oracle per video and factor (all days | last "
              f"{LAST_DAYS} days)")
        gaps = v["logit_gap_by_factor"]
        spans = list(gaps)
        factors = list(gaps[spans[0]]["platform"])
        print("  " + " " * 26 + " ".join(f"{f.replace('_bucket', '')[:12]:>12}" for f in factors))
        for policy in POLICIES:
            for span in spans:
                values = gaps[span].get(policy)
                if values:
                    label = f"{policy} ({'all' if span == 'all_days' else 'last ' + str(LAST_DAYS)})"
                    print(f"  {label:<26}" + " ".join(f"{values[f]:12.3f}" for f in factors))
    if summary["failed"]:
        print(f"\nFAILED runs (left out of the figures above): {summary['failed']}")
    print(f"\ntotal {summary['seconds']:.0f}s wall clock; reports under {summary['home']}")


def print_markdown(summary: dict[str, Any]) -> None:
    ok = {True: "✅", False: "❌"}
    print(
        "| jobs/day | seeds | pooled regret: platform / seeds' policy / uniform | platform / seeds' "
        "(target ≤ 0.5×), per-seed min–max | platform / uniform | last 7 days, % of oracle: mean (min–max) "
        "(target ≥ 90 %) | experiments decided / started | verdict accuracy |"
    )
    print("|---:|---|---|---|---:|---|---:|---|")
    for v in summary["volumes"].values():
        pr, t, e = v["pooled_regret"], v["targets"], v["experiments"]
        rs, sh = v["spread_ratio_platform_vs_seeds_policy"], v["spread_last_week_share_of_oracle"]
        seeds = v["seeds"]
        accuracy = "n/a" if v["verdict_accuracy"] is None else (
            f"{v['verdict_accuracy']:.0%} ({e['correct']}/{e['decided']})"
        )
        print(
            f"| {v['jobs_per_day']} | {len(seeds)} ({', '.join(map(str, seeds))}) | "
            f"{pr['platform']:.1f} / {pr['seeds_policy']:.1f} / {pr['uniform']:.1f} | "
            f"**{v['ratio_platform_vs_seeds_policy']:.2f}×** {ok[t['regret_ratio']['met']]} "
            f"({rs['min']:.2f}–{rs['max']:.2f}) | {v['ratio_platform_vs_uniform']:.2f}× | "
            f"**{sh['mean'] * 100:.1f} %** {ok[t['last_week_share']['met']]} "
            f"({sh['min'] * 100:.1f}–{sh['max'] * 100:.1f}) | {e['decided']} / {e['started']} | {accuracy} |"
        )
    print()
    print(f"Mean logit gap to the oracle per video and factor, last {LAST_DAYS} days (all days in brackets):")
    print()
    first = next(iter(summary["volumes"].values()))
    factors = list(first["logit_gap_by_factor"]["all_days"]["platform"])
    print("| jobs/day | policy | " + " | ".join(f.replace("_bucket", "") for f in factors) + " |")
    print("|---:|---|" + "---:|" * len(factors))
    for v in summary["volumes"].values():
        gaps = v["logit_gap_by_factor"]
        for policy in POLICIES:
            last, every = gaps[f"last_{LAST_DAYS}_days"].get(policy), gaps["all_days"].get(policy)
            if last and every:
                cells = " | ".join(f"{last[f]:.2f} ({every[f]:.2f})" for f in factors)
                print(f"| {v['jobs_per_day']} | {policy} | {cells} |")
    print()
    print(
        f"Produced by `{summary['command']}` ({summary['days']} simulated days after {summary['warmup_days']} "
        f"warm-up days, {summary['workers']} workers, {summary['seconds'] / 60:.0f} min wall clock, "
        f"{summary['date']})."
    )
    if summary["failed"]:
        print(f"\nFAILED runs (left out of the tables): {summary['failed']}")


def _json_safe(value: Any) -> Any:
    """NaN (an sd over one seed, a ratio over zero regret) becomes null: strict JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--jobs-per-day", type=int, nargs="+", default=[5, 3], help="volumes (default: 5 3)")
    parser.add_argument("--warmup-days", type=int, default=7)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=cores,
                        help="runs at once, one process each (default: the machine's cores)")
    parser.add_argument("--home", default="", help="scratch folder (default: a new temporary directory)")
    parser.add_argument("--verbose", action="store_true", help="one stderr line per simulated day and run")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document, figures per volume")
    out.add_argument("--markdown", action="store_true", help="README-ready tables and the command line")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    volumes = list(dict.fromkeys(args.jobs_per_day))
    seeds = list(dict.fromkeys(args.seeds))

    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ll_bench_learning_"))
    pairs = [(jobs, seed) for jobs in volumes for seed in seeds]
    print(
        f"{len(pairs)} runs ({args.days} days each) on {min(args.workers, len(pairs))} workers; folders under {root}",
        file=sys.stderr, flush=True,
    )
    started = time.monotonic()
    runs: dict[int, list[dict[str, Any]]] = {jobs: [] for jobs in volumes}
    failed: list[dict[str, Any]] = []
    # One fresh process per run: "spawn" copies no state from this one, and (Python >= 3.11) a worker process
    # exits after its run instead of carrying one run's imports and environment into the next.
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    with ProcessPoolExecutor(
        max_workers=min(args.workers, len(pairs)), mp_context=get_context("spawn"), **fresh
    ) as pool:
        futures: dict[Future, tuple[int, int]] = {
            pool.submit(run_one, jobs, seed, args.days, args.warmup_days, str(root / f"jobs-{jobs}" / f"seed-{seed}"),
                        args.verbose): (jobs, seed)
            for jobs, seed in pairs
        }
        for done, future in enumerate(as_completed(futures), 1):
            jobs, seed = futures[future]
            elapsed = time.monotonic() - started
            try:
                r = future.result()
            except Exception as exc:  # one broken run must not lose the others' minutes of work
                failed.append({"jobs_per_day": jobs, "seed": seed, "error": f"{type(exc).__name__}: {exc}"})
                print(f"[{done}/{len(pairs)}] {jobs}/day seed {seed} FAILED after {elapsed:.0f}s: {exc}",
                      file=sys.stderr, flush=True)
                continue
            runs[jobs].append(r)
            print(
                f"[{done}/{len(pairs)}] {jobs}/day seed {seed} done in {r['seconds']:.0f}s "
                f"({r['seconds'] / args.days:.1f} s per simulated day, warm-up included; {elapsed:.0f}s elapsed): "
                f"platform/seeds' regret {r['ratio_platform_vs_seeds_policy']:.2f}x, last week "
                f"{r['last_week_share_of_oracle']['platform']:.1%} of the oracle", file=sys.stderr, flush=True,
            )

    summary = {
        "command": "python " + shlex.join(sys.argv),
        "date": date.today().isoformat(),
        "days": args.days,
        "warmup_days": args.warmup_days,
        "jobs_per_day": volumes,
        "seeds": seeds,
        "workers": min(args.workers, len(pairs)),
        "volumes": {str(jobs): summarise_volume(jobs, rs) for jobs, rs in runs.items() if rs},
        "failed": failed,
        "seconds": round(time.monotonic() - started, 1),
        "home": str(root),
    }
    if args.json:
        print(json.dumps(_json_safe(summary), indent=2, allow_nan=False))
    elif summary["volumes"]:
        (print_markdown if args.markdown else print_text)(summary)
    else:
        print(f"every run failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
