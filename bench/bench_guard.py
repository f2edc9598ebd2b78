"""Benchmark of the canary guard (issue 10, SPEC §11): false rollbacks and detection under nightly checks.

Simulates canaries with a known truth and runs the guard's own decision
function (``learning_loop.domain.canaries.guard_decision``, via
``learning_loop.domain.canaries.simulation.simulate_guard``) after every
night for 14 nights; a rollback ends that canary. Decisions arrive
``Poisson(decisions/day)`` a day, each routed to the canary with probability
10 % (``--percent``); quality per decision ~ Beta(mean 0.8, sd 0.15), latency
~ log-normal (mean 800 ms, log-sd 0.5). The canary's quality mean is lowered
or its latency mean raised by the stated relative amount.

Printed per traffic level and scenario (Markdown): rollback rate with a 95 %
Clopper-Pearson interval, the median night of rollback among those rolled
back, rollbacks by reason, and the share of canaries refused at least once
for a sample-ratio mismatch (an alert, not a rollback). Targets: with no true
difference the rollback rate is at most 1 - level (0.01). The row "CS alone"
sets both tolerances to ~0 (τ kept at the default's 0.1 / 0.2), so any
excursion of a confidence sequence below/above 0 rolls back: it shows the
always-valid test itself, not the tolerance, keeps the error down.

    python bench/bench_guard.py            # 4000 null / 2000 other canaries per row, 200 and 1000 decisions/day
    python bench/bench_guard.py --quick    # 300 canaries per row
    python bench/bench_guard.py --level 0.95 --min-n 100 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_loop.domain.canaries import GuardConfig  # noqa: E402
from learning_loop.domain.canaries.simulation import GuardScenario, simulate_guard  # noqa: E402

#: (label, quality_drop, latency_rise, is_null, cs_alone)
SCENARIOS: list[tuple[str, float, float, bool, bool]] = [
    ("no difference", 0.0, 0.0, True, False),
    ("no difference, CS alone (tolerances ~0)", 0.0, 0.0, True, True),
    ("quality -3 % (within tolerance)", 0.03, 0.0, False, False),
    ("quality -5 %", 0.05, 0.0, False, False),
    ("quality -10 %", 0.10, 0.0, False, False),
    ("quality -20 %", 0.20, 0.0, False, False),
    ("latency +5 % (within tolerance)", 0.0, 0.05, False, False),
    ("latency +10 %", 0.0, 0.10, False, False),
    ("latency +25 %", 0.0, 0.25, False, False),
]


def _cs_alone(config: GuardConfig) -> GuardConfig:
    return GuardConfig(
        max_quality_drop=1e-9,
        max_latency_rise=1e-9,
        level=config.level,
        min_decisions_per_arm=config.min_decisions_per_arm,
        srm_alpha=config.srm_alpha,
        quality_mixture_sd=config.quality_tau,
        latency_mixture_sd=config.latency_tau,
    )


def run_benchmark(
    config: GuardConfig, traffic: list[float], percent: int, nights: int, sims: int, null_sims: int, seed: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for t_index, per_day in enumerate(traffic):
        for s_index, (label, drop, rise, is_null, cs_alone) in enumerate(SCENARIOS):
            scenario = GuardScenario(
                quality_drop=drop, latency_rise=rise, decisions_per_day=per_day,
                canary_percent=percent, nights=nights,
            )
            n = null_sims if is_null else sims
            start = time.perf_counter()
            rules = _cs_alone(config) if cs_alone else config
            result = simulate_guard(scenario, n, rules, seed * 1000 + t_index * 100 + s_index)
            seconds = time.perf_counter() - start
            ci = stats.binomtest(result.rollbacks, n).proportion_ci(confidence_level=0.95)
            rows.append({
                "decisions_per_day": per_day,
                "scenario": label,
                "null": is_null,
                "canaries": n,
                "rolled_back": result.rollbacks,
                "rate": result.rollback_rate,
                "ci95": [ci.low, ci.high],
                "median_nights": result.median_nights,
                "quality_rollbacks": result.reason_count("quality_regression"),
                "latency_rollbacks": result.reason_count("latency_regression"),
                "srm_refused_share": float(result.srm_refused.mean()),
                "seconds": round(seconds, 2),
            })
    return rows


def print_table(rows: list[dict[str, Any]], config: GuardConfig, percent: int, nights: int, total: float) -> None:
    print(
        f"Guard: level {config.level} (false-rollback target <= {config.alpha:.3f} over {nights} nightly checks), "
        f"max quality drop {config.max_quality_drop:g}, max latency rise {config.max_latency_rise:g}, "
        f"min {config.min_decisions_per_arm} decisions/arm, SRM alpha {config.srm_alpha:g}, canary at {percent} %.\n"
    )
    print(
        "| decisions/day | truth | canaries | rolled back | rate | 95 % CI | median night "
        "| by reason (q/l) | SRM refused | s |"
    )
    print("|---:|---|---:|---:|---:|---|---:|---|---:|---:|")
    for r in rows:
        low, high = r["ci95"]
        nights_txt = "–" if r["median_nights"] is None else f"{r['median_nights']:g}"
        verdict = ""
        if r["null"]:
            verdict = " ✅" if r["rate"] <= config.alpha else " ❌"
        print(
            f"| {r['decisions_per_day']:g} | {r['scenario']} | {r['canaries']} | {r['rolled_back']} | "
            f"{r['rate']:.4f}{verdict} | [{low:.4f}, {high:.4f}] | {nights_txt} | "
            f"{r['quality_rollbacks']}/{r['latency_rollbacks']} | {r['srm_refused_share']:.4f} | {r['seconds']:.1f} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntotal wall time {total:.1f} s (load average {load:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=2000, help="canaries per regression scenario")
    parser.add_argument("--null-sims", type=int, default=4000, help="canaries per no-difference scenario")
    parser.add_argument("--quick", action="store_true", help="300 canaries per row")
    parser.add_argument("--traffic", type=float, nargs="+", default=[200.0, 1000.0], help="decisions/day, both arms")
    parser.add_argument("--percent", type=int, default=10, help="canary percent")
    parser.add_argument("--nights", type=int, default=14)
    parser.add_argument("--level", type=float, default=0.99)
    parser.add_argument("--min-n", type=int, default=50, help="min decisions per arm")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sims = args.null_sims = 300
    config = GuardConfig(level=args.level, min_decisions_per_arm=args.min_n)
    start = time.perf_counter()
    rows = run_benchmark(config, args.traffic, args.percent, args.nights, args.sims, args.null_sims, args.seed)
    total = time.perf_counter() - start
    if args.json:
        print(json.dumps({"config": asdict(config), "percent": args.percent, "nights": args.nights,
                          "rows": rows, "seconds": total}, indent=2))
    else:
        print_table(rows, config, args.percent, args.nights, total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
