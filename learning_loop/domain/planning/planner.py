"""``plan_batch``: split the job slots, then fill them with exploit and explore jobs,
avoiding duplicate (topic, recipe) pairs (steps 2–5 of the package docstring)."""

from __future__ import annotations

from typing import Collection, Iterator, Sequence

from learning_loop.domain.exploration import ExplorationModel, Mutation, build_exploration_model
from learning_loop.domain.planning.drafts import Draft, finish_plan
from learning_loop.domain.planning.errors import NoRecipeStatsError
from learning_loop.domain.planning.plan import (
    SKIP_DUPLICATE,
    BatchPlan,
    NewExperiment,
    SkippedTopic,
    value_text,
)
from learning_loop.domain.planning.request import ExperimentRef, PlannerConfig, PlanRequest
from learning_loop.domain.planning.split import experiment_id_for, ruler_index, slot_modes
from learning_loop.domain.planning.topics import clean_topics
from learning_loop.domain.ranking import RankedRecipe, RecipeStat, rank_recipes


def _exploit_candidates(ranked: Sequence[RankedRecipe], first: RankedRecipe) -> Iterator[RankedRecipe]:
    yield first
    for r in ranked:
        if r is not first:
            yield r


def plan_batch(
    request: PlanRequest,
    stats: Sequence[RecipeStat],
    existing_pairs: Collection[tuple[str, str]],
    running_experiments: Sequence[ExperimentRef] = (),
    config: PlannerConfig | None = None,
) -> BatchPlan:
    """Plan a batch (see the package docstring).

    ``stats`` is the project's recipe_stats partition; ``existing_pairs``
    holds (topic_hash, recipe_hash) of the project's videos and planned jobs;
    ``running_experiments`` the project's running experiments.
    """
    cfg = config or PlannerConfig()
    if not stats:
        raise NoRecipeStatsError(request.project_id)
    cleaned = clean_topics(request.topics, cfg.max_topic_chars)
    used: Collection[tuple[str, str]] = (
        existing_pairs if isinstance(existing_pairs, (set, frozenset)) else set(existing_pairs)
    )
    batch_pairs: set[tuple[str, str]] = set()

    ranked = rank_recipes(stats, cfg.prior_mean, cfg.prior_strength)
    scored = [r for r in ranked if r.is_scored]
    exploit_pool = (scored or ranked)[: cfg.exploit_top_k]
    baselines = [r for r in scored if r.n_scored >= cfg.min_baseline_scored][: cfg.explore_baselines]

    running: dict[tuple[str, str], str] = {}
    for ref in sorted(running_experiments, key=lambda e: e.experiment_id):
        running.setdefault((ref.baseline_recipe_hash, ref.variant_recipe_hash), ref.experiment_id)

    model: ExplorationModel | None = None
    if baselines:
        model = build_exploration_model(
            stats,
            prior_mean=cfg.prior_mean,
            prior_strength=cfg.prior_strength,
            reward_sd=cfg.reward_sd,
            epsilon=cfg.epsilon,
            continue_bonus=cfg.continue_bonus,
        )

    notes: list[str] = []
    slot_is_explore, rng, forced = slot_modes(request, len(cleaned.topics), bool(baselines))
    m = len(slot_is_explore)
    if forced:
        notes.append("no recipe has scored videos yet, so there is no baseline to explore from: all jobs exploit")

    drafts: list[Draft] = []
    skipped: list[SkippedTopic] = []
    new_experiments: dict[str, NewExperiment] = {}
    reused: dict[str, None] = {}
    j_exploit = j_explore = 0

    def free(th: str, rh: str) -> bool:
        pair = (th, rh)
        return pair not in used and pair not in batch_pairs

    for topic in cleaned.topics:
        if len(drafts) >= m:
            break
        th = topic.topic_hash
        if not slot_is_explore[len(drafts)]:
            first = exploit_pool[ruler_index(j_exploit, len(exploit_pool))]
            chosen = next((r for r in _exploit_candidates(ranked, first) if free(th, r.recipe_hash)), None)
            if chosen is None:
                skipped.append(SkippedTopic(topic.topic, th, SKIP_DUPLICATE, "every recipe was already used for this topic"))
                continue
            reason = f"exploit: rank {chosen.rank} recipe ({chosen.describe()})"
            if chosen is not first:
                reason += f"; rank {first.rank} was already used for this topic"
            drafts.append(Draft(topic, "exploit", chosen.recipe, chosen.recipe_hash, chosen.rank, reason))
            batch_pairs.add((th, chosen.recipe_hash))
            j_exploit += 1
            continue

        assert model is not None
        first_b = baselines[ruler_index(j_explore, len(baselines))]
        found: tuple[RankedRecipe, Mutation, bool] | None = None
        for b in [first_b] + [x for x in baselines if x is not first_b]:
            mutations = model.rank_mutations(b.recipe, rng, running, b.recipe_hash)
            for pos, mut in enumerate(mutations):
                if free(th, mut.variant_hash):
                    found = (b, mut, b is not first_b or pos > 0)
                    break
            if found:
                break
        if found is None:
            skipped.append(
                SkippedTopic(topic.topic, th, SKIP_DUPLICATE, "every single-field mutation was already used for this topic")
            )
            continue
        b, mut, alternative = found
        key = (b.recipe_hash, mut.variant_hash)
        exp_id = running.get(key)
        if exp_id is not None:
            reused[exp_id] = None
            exp_note = f"continues running experiment {exp_id}"
        else:
            exp_id = experiment_id_for(request.project_id, b.recipe_hash, mut.variant_hash, request.as_of)
            if exp_id not in new_experiments:
                new_experiments[exp_id] = NewExperiment.of_change(
                    exp_id, request.project_id, b.recipe_hash, b.recipe, mut, request.as_of)
            exp_note = f"experiment {exp_id}"
        reason = (
            f"explore: {mut.field} {value_text(mut.baseline_value)}\u2192{value_text(mut.variant_value)} "
            f"on rank-{b.rank} baseline ({b.describe()}; {exp_note})"
        )
        if mut.picked_by == "uniform":
            reason += "; uniform pick"
        if alternative:
            reason += "; first choice was already used for this topic"
        drafts.append(
            Draft(topic, "explore", mut.variant, mut.variant_hash, b.rank, reason, exp_id, b.recipe_hash, mut)
        )
        batch_pairs.add((th, mut.variant_hash))
        j_explore += 1

    return finish_plan(
        request, cleaned, drafts, skipped, list(new_experiments.values()), list(reused), notes
    )


__all__ = ["plan_batch"]
