"""The model planner's policy in the simulator's world, in process (no Dagster, no warehouse).

A quick check of the planning *policy* while tuning it: the same world, warm-up
pool, topics and common random numbers as ``learning-loop simulate``, the
planner's pure function (``plan_batch_with_model``) fed with what the platform
would see as of each day (mature videos only: the first snapshot at or after
6 h must exist before the day starts; views at 6 h interpolated and duration and
engagement from the latest snapshot before the day, as the ``outcomes`` model
computes them), and the seeds' policy and uniform as in
the simulator. Experiments are not judged here (no verdicts, so no promotion);
they expire after 28 days. The real benchmark is ``bench_learning.py``, which
runs the whole platform; this one takes seconds per seed and plans the same
jobs (``--dump DIR`` writes them for a comparison with a real run's ``videos.csv``).

    python bench/bench_planner_inprocess.py --days 60 --jobs-per-day 5 3 --seeds 1 2 3 4 5
    python bench/bench_planner_inprocess.py --per-seed --seeds $(seq 1 25) --extra '{"context_spread": 1.0}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_loop.domain.additive import fit_additive, model_target  # noqa: E402
from learning_loop.domain.planning import ExperimentRef, PlanRequest  # noqa: E402
from learning_loop.domain.planning.model_planner import (  # noqa: E402
    Evidence,
    ModelPlanInputs,
    experiment_cap,
    plan_batch_with_model,
)
from learning_loop.domain.ranking import RecipeStat  # noqa: E402
from learning_loop.domain.recipe import Recipe, recipe_hash  # noqa: E402
from learning_loop.simulate.loop import (  # noqa: E402
    _DAY_OFFSET,
    _STREAM_POLICY,
    _STREAM_WARMUP,
    SimulationConfig,
    planner_seed,
    topics_for,
    warmup_pool,
)
from learning_loop.simulate.policies import Choice, SeedsPolicy, UniformPolicy, observe  # noqa: E402
from learning_loop.simulate.world import FACTORS, PLAN_HOUR, World, WorldConfig, publication_time  # noqa: E402

START = date(2024, 2, 1)
WINDOW_DAYS = 90


def views_at(real, hours: float = 6.0) -> float | None:
    prev_t, prev_v = 0.0, 0.0
    for s in real.snapshots:
        if s.offset_hours >= hours:
            if s.offset_hours == prev_t:
                return float(s.views)
            return prev_v + (s.views - prev_v) * (hours - prev_t) / (s.offset_hours - prev_t)
        prev_t, prev_v = s.offset_hours, float(s.views)
    return None


def run(seed: int, days: int, jobs: int, warmup_days: int = 7, **knobs) -> dict:
    world = World.from_config(WorldConfig(seed=seed))
    oracle = world.oracle().reward
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_WARMUP]))
    pool = warmup_pool(world, rng, SimulationConfig.warmup_pool_size)
    types = list(world.content_types)
    platform_rows: list[dict] = []  # what the platform observes
    shared = []
    first_day = START - timedelta(days=warmup_days)

    def publish(day_index: int, slot: int, day: date, recipe: dict, content: str, hour: int) -> float:
        real = world.realise(day_index, slot, recipe, content, hour)
        pub = publication_time(day, hour, real.minute)
        mature = real.mature_after_hours()
        platform_rows.append({
            "recipe": dict(recipe), "hash": recipe_hash(recipe), "content": content, "hour": hour,
            "published_at": pub, "mature_at": None if mature is None else pub + timedelta(hours=mature),
            "views_6h": views_at(real), "snaps": real.snapshot_rows(pub),
        })
        return real.true_reward

    for w in range(warmup_days):
        day = first_day + timedelta(days=w)
        day_index = w - warmup_days
        order = [types[int(i)] for i in rng.permutation(len(types))]
        for slot in range(jobs):
            recipe = pool[int(rng.integers(0, len(pool)))]
            content = order[slot % len(order)]
            hour = int(rng.integers(PLAN_HOUR, 24))
            publish(day_index, slot, day, recipe, content, hour)
            obs, _ = observe(world, day_index, slot, Choice(recipe, content, hour, "manual"), day)
            shared.append(obs)
    policies = [SeedsPolicy(world), UniformPolicy(world)]
    histories = {p.name: list(shared) for p in policies}
    regret = {"platform": 0.0, "seeds_policy": 0.0, "uniform": 0.0}
    last_week = {k: [] for k in regret}
    experiments: list[dict] = []
    gaps: dict = {}
    used_pairs: set = set()
    for i in range(days):
        day = START + timedelta(days=i)
        t = datetime.combine(day, datetime.min.time())
        seen = [r for r in platform_rows if r["mature_at"] is not None and r["mature_at"] < t
                and r["published_at"] >= t - timedelta(days=WINDOW_DAYS) and r["views_6h"] is not None]
        latest = [max((x for x in r["snaps"] if x["observed_at"] < t), key=lambda x: x["observed_at"]) for r in seen]
        # as the outcomes model: the latest snapshot before T gives duration and engagement
        y = model_target([x["avg_view_duration_s"] for x in latest], [r["views_6h"] for r in seen],
                         [(x["likes"] + x["comments"]) / x["views"] if x["views"] else 0.0 for x in latest])
        post = fit_additive([r["recipe"] for r in seen], [r["content"] for r in seen],
                            [r["published_at"].hour for r in seen], y,
                            **{k: v for k, v in knobs.items() if k in ("prior_sd", "hour_prior_sd")})
        counts: dict[str, list] = {}
        for r in seen:
            counts.setdefault(r["hash"], [r["recipe"], 0])[1] += 1
        evidence = [Evidence(Recipe(**rec), h, n) for h, (rec, n) in counts.items()]
        all_used: dict[str, list] = {}
        for r in platform_rows:
            if r["published_at"] < t:
                all_used.setdefault(r["hash"], [r["recipe"], 0])[1] += 1
        stats = [RecipeStat(recipe=Recipe(**rec), recipe_hash=h, times_used=n, scored_videos=counts.get(h, [0, 0])[1])
                 for h, (rec, n) in all_used.items()]
        experiments = [e for e in experiments if (day - e["start"]).days < 28]
        running = [ExperimentRef(e["id"], e["b"], e["v"], e["jobs"]) for e in experiments]
        cap = knobs.get("cap") or experiment_cap(jobs, 0.3, 5)
        inputs = ModelPlanInputs(post, evidence, cap, propensity_draws=knobs.get("draws", 500),
                                 explore_baselines=knobs.get("baselines", 1),
                                 greedy_context=knobs.get("greedy", True), **knobs.get("extra", {}))
        request = PlanRequest("sim", topics_for(seed, i, jobs), jobs,
                              t + timedelta(hours=PLAN_HOUR), planner_seed(seed, i))
        plan = plan_batch_with_model(request, stats, used_pairs, running, inputs)
        for e in plan.new_experiments:
            experiments.append({"id": e.experiment_id, "b": e.baseline_recipe_hash, "v": e.variant_recipe_hash,
                                "start": day, "jobs": 0})
        for job in plan.jobs:  # SPEC §6: the variant arm is every video with the variant recipe since the start
            for e in experiments:
                if e["v"] == job.recipe_hash:
                    e["jobs"] += 1
        rewards = []
        for slot, job in enumerate(plan.jobs):
            rec = dict(job.recipe.fields())
            rec["scene_count"] = int(rec["scene_count"])
            for f in FACTORS:
                value = job.choice.content_type if f == "content_type" else job.choice.posting_hour if f == "hour" else rec[f]
                gaps.setdefault((f, job.generation_mode, i // 10), []).append(
                    max(world.effects[f].values()) - world.effect(f, value))
            rewards.append(publish(i, slot, day, rec, job.choice.content_type, job.choice.posting_hour))
            if knobs.get("dump") is not None:
                knobs["dump"].append((i + 1, slot, job.generation_mode, job.recipe_hash, job.choice.content_type,
                                      job.choice.posting_hour, f"{rewards[-1]:.6f}"))
            used_pairs.add((job.topic_hash, job.recipe_hash))
        regret["platform"] += sum(oracle - r for r in rewards)
        if i >= days - 7:
            last_week["platform"].append(np.mean(rewards))
        for k, policy in enumerate(policies):
            prng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_POLICY, k, i + _DAY_OFFSET]))
            choices = policy.plan(jobs, t, histories[policy.name], prng)
            rs = []
            for slot, choice in enumerate(choices):
                obs, true_reward = observe(world, i, slot, choice, day)
                histories[policy.name].append(obs)
                rs.append(true_reward)
            regret[policy.name] += sum(oracle - r for r in rs)
            if i >= days - 7:
                last_week[policy.name].append(np.mean(rs))
    return {"regret": regret, "last_week_share": {k: float(np.mean(v)) / oracle for k, v in last_week.items()},
            "oracle": oracle, "gaps": gaps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--jobs-per-day", type=int, nargs="+", default=[5, 3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--prior-sd", type=float, default=None)
    parser.add_argument("--hour-prior-sd", type=float, default=None)
    parser.add_argument("--baselines", type=int, default=1)
    parser.add_argument("--cap", type=int, default=0)
    parser.add_argument("--thompson-context", action="store_true", help="exploit jobs also draw content/hour")
    parser.add_argument("--gaps", action="store_true", help="mean logit gap to the oracle per factor, mode, 10 days")
    parser.add_argument("--per-seed", action="store_true", help="each seed's regret")
    parser.add_argument("--dump", type=Path, default=None,
                        help="folder for jobs-<n>-seed-<s>.csv: every planned job (compare with a real run's videos.csv)")
    parser.add_argument("--extra", default="{}", help="JSON of extra ModelPlanInputs fields (experiments)")
    args = parser.parse_args()
    knobs = {"baselines": args.baselines, "cap": args.cap, "greedy": not args.thompson_context,
             "extra": json.loads(args.extra)}
    if args.prior_sd is not None:
        knobs["prior_sd"] = args.prior_sd
    if args.hour_prior_sd is not None:
        knobs["hour_prior_sd"] = args.hour_prior_sd
    for jobs in args.jobs_per_day:
        started = time.monotonic()
        results = []
        for seed in args.seeds:
            dump: list | None = [] if args.dump else None
            results.append(run(seed, args.days, jobs, **knobs, dump=dump))
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                lines = ["day_index,slot,generation_mode,recipe_hash,content_type,hour,true_reward"]
                lines += [",".join(str(v) for v in row) for row in dump]
                (args.dump / f"jobs-{jobs}-seed-{seed}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        pooled = {k: sum(r["regret"][k] for r in results) for k in ("platform", "seeds_policy", "uniform")}
        shares = [r["last_week_share"]["platform"] for r in results]
        ratios = [r["regret"]["platform"] / r["regret"]["seeds_policy"] for r in results]
        print(f"{jobs} jobs/day, seeds {args.seeds}: pooled regret platform {pooled['platform']:.1f}, seeds' policy "
              f"{pooled['seeds_policy']:.1f}, uniform {pooled['uniform']:.1f}; ratio vs seeds "
              f"{pooled['platform'] / pooled['seeds_policy']:.2f} (per seed {min(ratios):.2f}-{max(ratios):.2f}); "
              f"last week {np.mean(shares):.1%} of oracle (min {min(shares):.1%}; seeds' policy "
              f"{np.mean([r['last_week_share']['seeds_policy'] for r in results]):.1%}); "
              f"{time.monotonic() - started:.0f}s")
        if args.per_seed:
            print("  regret platform/seeds' policy per seed: " + ", ".join(
                f"{s}: {r['regret']['platform']:.1f}/{r['regret']['seeds_policy']:.1f}" for s, r in zip(args.seeds, results)))
        if args.gaps:
            keys = sorted({k for r in results for k in r["gaps"]}, key=lambda k: (k[1], k[2], FACTORS.index(k[0])))
            for mode in ("exploit", "explore"):
                for block in sorted({k[2] for k in keys}):
                    vals = [np.mean([g for r in results for g in r["gaps"].get((f, mode, block), [])] or [np.nan])
                            for f in FACTORS]
                    print(f"  {mode:8} days {block * 10:>2}-{block * 10 + 9:<2} " + " ".join(f"{v:6.3f}" for v in vals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
