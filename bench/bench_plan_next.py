"""Benchmark of the pure plan-next planners (issue 3 "Speed", issue 12).

Generates synthetic recipe stats, existing (topic_hash, recipe_hash) pairs and
running experiments, then times a batch (and its JSON output). Generation is
excluded from the timing. Target: 1000 topics against 10k recipes and 100k
existing jobs in under 2 s. ``--planner model`` (the default) times the model
planner: fitting the additive model on ``--videos`` mature videos of those
recipes plus ``plan_batch_with_model`` with its Monte Carlo propensities;
``--planner ranking`` the issue-3 ranking planner.

    python bench/bench_plan_next.py                 # defaults: model, 10k / 100k / 1000, 50k videos
    python bench/bench_plan_next.py --planner ranking --repeat 5 --json
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning_loop.domain.additive import fit_additive  # noqa: E402
from learning_loop.domain.planning import ExperimentRef, PlanRequest, plan_batch  # noqa: E402
from learning_loop.domain.planning.model_planner import (  # noqa: E402
    Evidence,
    ModelPlanInputs,
    plan_batch_with_model,
)
from learning_loop.domain.ranking import RecipeStat, rank_recipes  # noqa: E402
from learning_loop.domain.recipe import ALLOWED_VALUES, Recipe, recipe_hash, topic_hash  # noqa: E402


def make_stats(n_recipes: int, rng: np.random.Generator) -> list[RecipeStat]:
    n_presets = max(2, -(-n_recipes // 1296))  # 1296 combinations per preset
    presets = [f"PRESET_{i:02d}" for i in range(n_presets)]
    space = list(
        itertools.product(
            presets,
            ALLOWED_VALUES["hook_type"],
            ALLOWED_VALUES["scene_count"],
            ALLOWED_VALUES["narration_wpm_bucket"],
            ALLOWED_VALUES["caption_density_bucket"],
            ALLOWED_VALUES["ending_type"],
        )
    )
    picks = rng.choice(len(space), size=min(n_recipes, len(space)), replace=False)
    stats = []
    for idx in picks:
        p, h, s, w, c, e = space[int(idx)]
        recipe = Recipe(
            preset=p, hook_type=h, scene_count=s, narration_wpm_bucket=w, caption_density_bucket=c, ending_type=e
        )
        scored = int(rng.integers(0, 40)) if rng.random() < 0.7 else 0
        avg = float(np.clip(rng.normal(0.5, 0.12), 0, 1)) if scored else None
        stats.append(
            RecipeStat(
                recipe=recipe,
                recipe_hash=recipe_hash(recipe.fields()),
                times_used=scored + int(rng.integers(0, 5)),
                scored_videos=scored,
                avg_reward=avg,
                best_reward=None if avg is None else min(1.0, avg + 0.2),
            )
        )
    return stats


def make_existing(
    n_pairs: int, plan_topics: list[str], stats: list[RecipeStat], clash_share: float, rng: np.random.Generator
) -> set[tuple[str, str]]:
    """``clash_share`` of the pairs hit the planned topics with top-ranked
    recipes (forcing the planner to look for alternatives); the rest are
    history: other topics with random recipes."""
    ranked = [r.recipe_hash for r in rank_recipes(stats)]
    plan_hashes = [topic_hash(t) for t in plan_topics]
    n_clash = int(n_pairs * clash_share)
    # Enough top recipes that the clash pairs fit (about half of the
    # topic x top-recipe grid gets used), and at least the top 50.
    top = ranked[: max(50, -(-2 * n_clash // max(1, len(plan_hashes))))]
    n_clash = min(n_clash, len(plan_hashes) * len(top))
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < n_clash:
        pairs.add((plan_hashes[int(rng.integers(len(plan_hashes)))], top[int(rng.integers(len(top)))]))
    history_topics = [topic_hash(f"old topic {i}") for i in range(max(1, n_pairs // 5))]
    n_pairs = min(n_pairs, len(pairs) + len(history_topics) * len(ranked))
    while len(pairs) < n_pairs:
        pairs.add((history_topics[int(rng.integers(len(history_topics)))], ranked[int(rng.integers(len(ranked)))]))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=100_000, help="existing (topic, recipe) pairs")
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--running-experiments", type=int, default=200)
    parser.add_argument("--clash-share", type=float, default=0.3, help="share of existing pairs on planned topics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds; exit 1 when the best run exceeds it")
    parser.add_argument("--planner", choices=("model", "ranking"), default="model")
    parser.add_argument("--videos", type=int, default=50_000, help="mature videos the model is fitted on")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    stats = make_stats(args.recipes, rng)
    plan_topics = [f"Topic number {i}: a secret meeting in a neon-lit alley" for i in range(args.topics)]
    existing = make_existing(args.existing, plan_topics, stats, args.clash_share, rng)
    ranked = rank_recipes(stats)
    running = [
        ExperimentRef(f"exp_bench_{i}", ranked[i % 3].recipe_hash, ranked[3 + i].recipe_hash)
        for i in range(min(args.running_experiments, max(0, len(ranked) - 3)))
    ]
    gen_s = time.perf_counter() - t0

    request = PlanRequest(
        project_id="bench",
        topics=plan_topics,
        count=args.count,
        as_of=datetime(2024, 6, 1, 6, tzinfo=timezone.utc),
        seed=args.seed,
    )
    scored = [s for s in stats if s.scored_videos] or stats
    fields = [s.recipe.fields() for s in scored]

    def model_plan():
        """Fit the model on synthetic videos of the scored recipes, then plan (both timed)."""
        picks = rng.integers(0, len(scored), size=args.videos)
        recipes = [fields[int(i)] for i in picks]
        contents = [("story", "factual", "educational", "trending")[int(i) % 4] for i in picks]
        hours = [int(h) for h in rng.integers(0, 24, size=args.videos)]
        target = rng.normal(0.0, 1.0, size=args.videos)
        posterior = fit_additive(recipes, contents, hours, target)
        evidence = [Evidence(s.recipe, s.recipe_hash, s.scored_videos) for s in scored]
        inputs = ModelPlanInputs(posterior, evidence, running_cap=4)
        return plan_batch_with_model(request, stats, existing, running, inputs)

    plan_times, total_times = [], []
    plan = None
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        plan = model_plan() if args.planner == "model" else plan_batch(request, stats, existing, running)
        t2 = time.perf_counter()
        json.dumps(plan.to_json_dict())
        t3 = time.perf_counter()
        plan_times.append(t2 - t1)
        total_times.append(t3 - t1)
    assert plan is not None
    result = {
        "planner": args.planner,
        "videos": args.videos if args.planner == "model" else None,
        "recipes": len(stats),
        "existing_pairs": len(existing),
        "topics": args.topics,
        "count": args.count,
        "planned": plan.planned,
        "exploit": plan.exploit_count,
        "explore": plan.explore_count,
        "skipped": len(plan.skipped),
        "new_experiments": len(plan.new_experiments),
        "generation_s": round(gen_s, 3),
        "plan_s_best": round(min(plan_times), 4),
        "plan_s_median": round(statistics.median(plan_times), 4),
        "plan_plus_json_s_best": round(min(total_times), 4),
        "plan_plus_json_s_median": round(statistics.median(total_times), 4),
        "budget_s": args.budget,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"plan-next ({args.planner} planner): {result['planned']} jobs ({result['exploit']} exploit / {result['explore']} explore, "
            f"{result['skipped']} skipped) from {result['recipes']} recipes and {result['existing_pairs']} existing pairs"
        )
        print(f"  generation (excluded): {gen_s:.2f} s")
        if args.planner == "model":
            print(f"  (model fit on {args.videos} videos is inside the planner's time)")
        print(
            f"  planner:               best {result['plan_s_best']:.3f} s, median {result['plan_s_median']:.3f} s"
            f" over {args.repeat} runs"
        )
        print(
            f"  plan + JSON output:    best {result['plan_plus_json_s_best']:.3f} s, "
            f"median {result['plan_plus_json_s_median']:.3f} s (budget {args.budget:.1f} s)"
        )
    return 0 if min(total_times) <= args.budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
