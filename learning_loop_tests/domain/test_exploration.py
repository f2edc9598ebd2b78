"""Choosing the field and value to mutate (issue 3, item 3)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from learning_loop.domain.exploration import build_exploration_model
from learning_loop.domain.ranking import RecipeStat
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS, Recipe

BASE = dict(
    preset="DARK_DYSTOPIAN_ANIME",
    hook_type="question",
    scene_count=7,
    narration_wpm_bucket="medium",
    caption_density_bucket="medium",
    ending_type="cliffhanger",
)


def recipe(**overrides) -> Recipe:
    return Recipe(**{**BASE, **overrides})


def stat(r: Recipe, n: int = 0, avg: float | None = None) -> RecipeStat:
    return RecipeStat.of(r, times_used=n, scored_videos=n, avg_reward=avg, best_reward=avg)


def neutral_stats(presets=("DARK_DYSTOPIAN_ANIME", "VIBRANT_MOTION_GRAPHICS")) -> list[RecipeStat]:
    rows = [stat(recipe(preset=p), n=10, avg=0.55) for p in presets]
    rows.append(stat(recipe(hook_type="story"), n=5, avg=0.5))
    return rows


def test_candidates_never_repeat_the_baseline_and_stay_allowed():
    model = build_exploration_model(neutral_stats())
    base = recipe()
    cands = model.candidates(base)
    assert len({c.variant_hash for c in cands}) == len(cands)
    for c in cands:
        assert c.variant_value != c.baseline_value == getattr(base, c.field)
        diffs = [f for f in RECIPE_FIELDS if getattr(c.variant, f) != getattr(base, f)]
        assert diffs == [c.field]
        assert c.variant_hash == c.variant.recipe_hash
        if c.field == "preset":
            assert c.variant_value == "VIBRANT_MOTION_GRAPHICS"
        else:
            assert c.variant_value in ALLOWED_VALUES[c.field]
    per_field = Counter(c.field for c in cands)
    assert per_field == {
        "preset": 1,
        "hook_type": 5,
        "scene_count": 5,
        "narration_wpm_bucket": 2,
        "caption_density_bucket": 2,
        "ending_type": 3,
    }
    assert all(5 <= c.variant.scene_count <= 10 for c in cands)


def test_single_known_preset_is_not_mutable():
    model = build_exploration_model(neutral_stats(presets=("DARK_DYSTOPIAN_ANIME",)))
    assert "preset" not in model.mutable_fields(recipe())
    assert all(c.field != "preset" for c in model.candidates(recipe()))


def test_every_field_and_value_is_reachable_over_seeds():
    model = build_exploration_model(neutral_stats(presets=("A", "B", "C")))
    base = recipe(preset="A")
    chosen = Counter()
    rng = np.random.default_rng(0)
    for _ in range(1000):
        mut = model.choose_mutation(base, rng)
        chosen[(mut.field, mut.variant_value)] += 1
    assert {f for f, _ in chosen} == set(RECIPE_FIELDS)
    expected = {(c.field, c.variant_value) for c in model.candidates(base)}
    assert set(chosen) == expected


def test_every_field_reachable_even_when_data_strongly_favour_one_field():
    # ending_type=loop is overwhelmingly good: Thompson nearly always picks it,
    # but the epsilon floor keeps every other field reachable.
    rows = [stat(recipe(ending_type="loop", scene_count=s), n=200, avg=0.9) for s in (5, 6)]
    rows += [stat(recipe(preset="OTHER", scene_count=s), n=200, avg=0.2) for s in (8, 9)]
    rows.append(stat(recipe(), n=200, avg=0.4))
    model = build_exploration_model(rows)
    base = recipe()
    fields = Counter(model.choose_mutation(base, np.random.default_rng(s)).field for s in range(600))
    assert set(fields) == set(RECIPE_FIELDS)
    assert fields["ending_type"] > 300
    probs = model.mutation_probabilities(base, np.random.default_rng(0), draws=5000)
    n_fields = len(model.mutable_fields(base))
    for (field, _value), p in probs.items():
        n_values = len(model.candidate_values(field, base))
        assert p >= model.epsilon / (n_fields * n_values) - 1e-12
    assert sum(probs.values()) == pytest.approx(1.0)


def test_promising_values_are_favoured_over_known_poor_ones():
    rows = [
        stat(recipe(hook_type="mystery", scene_count=s), n=40, avg=0.72) for s in (5, 6)
    ] + [stat(recipe(hook_type="statement", scene_count=s), n=40, avg=0.3) for s in (5, 6)]
    rows.append(stat(recipe(), n=40, avg=0.5))
    model = build_exploration_model(rows)
    probs = model.mutation_probabilities(recipe(), np.random.default_rng(1), draws=20_000)
    assert probs[("hook_type", "mystery")] > probs[("hook_type", "statement")] * 5
    # An untested value (wide posterior) beats a well-measured poor one.
    assert probs[("hook_type", "contrast")] > probs[("hook_type", "statement")]
    # ... and is drawn more often than uniform choice over all changes would give it.
    assert probs[("hook_type", "mystery")] > 1 / len(probs)


def test_untested_values_have_wide_posteriors():
    model = build_exploration_model([stat(recipe(), n=100, avg=0.6)])
    tested = model.posterior("hook_type", "question")
    untested = model.posterior("hook_type", "mystery")
    assert tested.n == 100 and untested.n == 0
    assert untested.mean == 0.5 and untested.sd > 3 * tested.sd
    assert tested.mean == pytest.approx((100 * 0.6 + 5 * 0.5) / 105)


def test_rank_mutations_lists_every_candidate_once_and_is_seeded():
    model = build_exploration_model(neutral_stats())
    base = recipe()
    a = model.rank_mutations(base, np.random.default_rng(7))
    b = model.rank_mutations(base, np.random.default_rng(7))
    assert [m.variant_hash for m in a] == [m.variant_hash for m in b]
    assert sorted(m.variant_hash for m in a) == sorted(c.variant_hash for c in model.candidates(base))
    seqs = {tuple(m.variant_hash for m in model.rank_mutations(base, np.random.default_rng(s))) for s in range(10)}
    assert len(seqs) > 1


def test_running_experiment_gets_a_continue_bonus():
    model = build_exploration_model(neutral_stats())
    base = recipe()
    target = next(c for c in model.candidates(base) if c.field == "ending_type" and c.variant_value == "loop")
    running = {(base.recipe_hash, target.variant_hash)}
    plain = model.mutation_probabilities(base, np.random.default_rng(2), draws=10_000)
    boosted = model.mutation_probabilities(base, np.random.default_rng(2), draws=10_000, running_pairs=running)
    assert boosted[("ending_type", "loop")] > plain[("ending_type", "loop")]
    mut = next(
        m
        for s in range(200)
        for m in [model.choose_mutation(base, np.random.default_rng(s), running)]
        if m.variant_hash == target.variant_hash
    )
    assert mut.continues_experiment


def test_model_is_independent_of_stats_order():
    rows = neutral_stats() + [stat(recipe(ending_type=e), n=3, avg=0.1 * i) for i, e in enumerate(("loop", "cta"))]
    a = build_exploration_model(rows)
    b = build_exploration_model(list(reversed(rows)))
    assert a.posteriors == b.posteriors and a.presets == b.presets


@pytest.mark.parametrize("kwargs", [{"epsilon": 1.5}, {"reward_sd": 0}, {"prior_strength": -1}, {"continue_bonus": -0.1}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        build_exploration_model(neutral_stats(), **kwargs)


def test_uniform_branch_when_epsilon_is_one():
    model = build_exploration_model(neutral_stats(presets=("A", "B")), epsilon=1.0)
    base = recipe(preset="A")
    rng = np.random.default_rng(0)
    fields = Counter(model.choose_mutation(base, rng).field for _ in range(1200))
    assert set(fields) == set(RECIPE_FIELDS)
    # uniform over fields: each about 1/6 of 1200
    assert all(130 < c < 280 for c in fields.values())
    assert all(m.picked_by == "uniform" for m in [model.choose_mutation(base, np.random.default_rng(1))])


def test_all_values_of_scene_count_reachable_from_the_edges():
    model = build_exploration_model(neutral_stats())
    for edge in (5, 10):
        base = recipe(scene_count=edge)
        values = {c.variant_value for c in model.candidates(base) if c.field == "scene_count"}
        assert values == set(range(5, 11)) - {edge}


def test_candidates_valid_for_every_hook_and_ending_baseline():
    model = build_exploration_model(neutral_stats())
    for hook, ending in itertools.product(ALLOWED_VALUES["hook_type"], ALLOWED_VALUES["ending_type"]):
        base = recipe(hook_type=hook, ending_type=ending)
        for c in model.candidates(base):
            Recipe(**c.variant.fields())  # validates
