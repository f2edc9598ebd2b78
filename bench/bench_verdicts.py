"""Benchmark of the experiment-verdict method (issue 3 item 7, SPEC §6).

Simulates many experiments with ~3 videos per arm per day and a look every
day for 28 days, then prints the A/A false-positive rate of the verdict method
next to a naive daily Welch t-test on the same data, and the power at a few
true effects, each with a 95 % Clopper-Pearson interval and its wall time.

    python bench/bench_verdicts.py                      # --sims 5000 --seed 1
    python bench/bench_verdicts.py --sims 20000 --level 0.9 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_loop.domain.experiments import (  # noqa: E402
    METHOD,
    NAIVE_METHOD,
    UNIFORM_SD,
    ExperimentRules,
    simulate_false_positive_rate,
    simulate_power,
)

#: (name, keyword arguments of simulate_false_positive_rate)
AA_SCENARIOS: list[tuple[str, dict[str, float]]] = [
    ("A/A uniform percentiles (mean 0.50, sd 0.29)", dict(mean=0.5, sd=UNIFORM_SD)),
    ("A/A bimodal, Beta(0.3, 0.3) (mean 0.50, sd 0.40)", dict(mean=0.5, sd=0.395)),
    ("A/A skewed, Beta(0.5, 3) (mean 0.14, sd 0.16)", dict(mean=1 / 7, sd=0.165)),
]
#: (name, keyword arguments of simulate_power); the first is the stated target (power >= 0.8)
POWER_SCENARIOS: list[tuple[str, dict[str, float]]] = [
    ("effect 0.25: 0.45 -> 0.70, sd 0.20 (target >= 0.8)", dict(effect=0.25, baseline_mean=0.45, sd=0.2)),
    ("effect 0.15: 0.45 -> 0.60, sd 0.29", dict(effect=0.15, baseline_mean=0.45, sd=0.29)),
    ("effect 0.10: 0.45 -> 0.55, sd 0.29", dict(effect=0.10, baseline_mean=0.45, sd=0.29)),
]


def timed_rate(run: Callable[..., float], sims: int, **kwargs: Any) -> dict[str, Any]:
    """Run one simulation; its rate, 95 % Clopper-Pearson interval and wall time."""
    start = time.perf_counter()
    rate = run(sims, **kwargs)
    seconds = time.perf_counter() - start
    ci = stats.binomtest(round(rate * sims), sims).proportion_ci(confidence_level=0.95)
    return {"rate": rate, "ci95": [ci.low, ci.high], "seconds": round(seconds, 3)}


def run_benchmark(sims: int, seed: int, rules: ExperimentRules, videos_per_day: float) -> list[dict]:
    """Every scenario under the verdict method and the naive daily t-test (same data per scenario)."""
    rows: list[dict] = []
    scenarios = [("fpr", name, kw) for name, kw in AA_SCENARIOS]
    scenarios += [("power", name, kw) for name, kw in POWER_SCENARIOS]
    for index, (kind, name, kwargs) in enumerate(scenarios):
        run = simulate_false_positive_rate if kind == "fpr" else simulate_power
        for method in (METHOD, NAIVE_METHOD):
            result = timed_rate(
                run, sims, rules=rules, seed=seed * 1000 + index,
                videos_per_day=videos_per_day, method=method, **kwargs,
            )
            rows.append({"kind": kind, "scenario": name, "method": method, **result})
    return rows


def print_table(rows: list[dict], rules: ExperimentRules, sims: int, total: float) -> None:
    """Human-readable summary."""
    print(
        f"{sims} simulated experiments per row; level {rules.level}, min n {rules.min_n_per_arm}/arm, "
        f"daily looks for {rules.max_duration_days} days; allowed false-positive rate {rules.alpha:.3f}"
    )
    print(f"{'':6}{'scenario':54}{'method':30}{'rate':>7}  {'95% CI':>15}  {'wall s':>7}")
    for row in rows:
        low, high = row["ci95"]
        label = "FPR" if row["kind"] == "fpr" else "power"
        print(
            f"{label:6}{row['scenario']:54}{row['method']:30}{row['rate']:7.4f}  "
            f"[{low:.3f}, {high:.3f}]  {row['seconds']:7.2f}"
        )
    print(f"total wall time {total:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=5000, help="simulated experiments per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--min-n", type=int, default=5, help="min videos per arm before a verdict")
    parser.add_argument("--days", type=int, default=28, help="max duration with one look per day")
    parser.add_argument("--videos-per-day", type=float, default=3.0, help="mean Poisson arrivals per arm")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rules = ExperimentRules(level=args.level, min_n_per_arm=args.min_n, max_duration_days=args.days)
    start = time.perf_counter()
    rows = run_benchmark(args.sims, args.seed, rules, args.videos_per_day)
    total = time.perf_counter() - start
    if args.json:
        print(json.dumps({"rules": rules.to_dict(), "sims": args.sims, "rows": rows, "seconds": total}, indent=2))
    else:
        print_table(rows, rules, args.sims, total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
