"""Sample-size-aware exploit ranking (issue 3, item 2)."""

from __future__ import annotations

import random

import pytest

from learning_loop.domain.ranking import RecipeStat, rank_recipes, shrunk_reward
from learning_loop.domain.recipe import Recipe

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


def stat(r: Recipe, n: int = 0, avg: float | None = None, used: int | None = None) -> RecipeStat:
    return RecipeStat.of(r, times_used=n if used is None else used, scored_videos=n, avg_reward=avg, best_reward=avg)


def test_one_lucky_video_does_not_outrank_twenty_good_ones():
    lucky = stat(recipe(hook_type="mystery"), n=1, avg=0.99)
    proven = stat(recipe(hook_type="story"), n=20, avg=0.75)
    ranked = rank_recipes([lucky, proven])
    assert [r.recipe_hash for r in ranked] == [proven.recipe_hash, lucky.recipe_hash]
    assert ranked[0].score == pytest.approx((20 * 0.75 + 5 * 0.5) / 25)
    assert ranked[1].score == pytest.approx((0.99 + 5 * 0.5) / 6)
    assert [r.rank for r in ranked] == [1, 2]


def test_shrinkage_formula_and_prior():
    assert shrunk_reward(0, None) == 0.5
    assert shrunk_reward(0, 0.9, prior_mean=0.4) == 0.4
    assert shrunk_reward(10, 0.8, prior_mean=0.5, prior_strength=10) == pytest.approx(0.65)
    # Enough evidence converges to the observed mean.
    assert shrunk_reward(10_000, 0.8) == pytest.approx(0.8, abs=1e-3)


def test_prior_mean_is_a_parameter():
    unscored = stat(recipe(hook_type="visual"))
    scored = stat(recipe(hook_type="story"), n=4, avg=0.55)
    assert rank_recipes([unscored, scored], prior_mean=0.5)[0].recipe_hash == scored.recipe_hash
    assert rank_recipes([unscored, scored], prior_mean=0.6)[0].recipe_hash == unscored.recipe_hash


def test_unscored_rank_by_prior_after_scored_on_ties():
    unscored = stat(recipe(hook_type="visual"), used=3)
    exactly_average = stat(recipe(hook_type="story"), n=8, avg=0.5)
    good = stat(recipe(hook_type="contrast"), n=3, avg=0.7)
    bad = stat(recipe(hook_type="mystery"), n=30, avg=0.3)
    ranked = rank_recipes([bad, unscored, good, exactly_average])
    assert [r.recipe_hash for r in ranked] == [
        good.recipe_hash,
        exactly_average.recipe_hash,
        unscored.recipe_hash,
        bad.recipe_hash,
    ]
    assert ranked[2].score == 0.5 and not ranked[2].is_scored
    assert ranked[2].describe().startswith("no scored videos")


def test_known_reward_with_zero_videos_counts_as_unscored():
    odd = RecipeStat.of(recipe(hook_type="visual"), times_used=2, scored_videos=3, avg_reward=None)
    assert odd.n_scored == 0
    assert rank_recipes([odd])[0].score == 0.5


def test_ties_break_deterministically_by_hash_and_order_does_not_matter():
    rows = [stat(recipe(scene_count=s), n=5, avg=0.6) for s in range(5, 11)]
    rows += [stat(recipe(hook_type="visual", scene_count=s)) for s in range(5, 11)]
    expected = rank_recipes(rows)
    scored_hashes = sorted(r.recipe_hash for r in rows[:6])
    assert [r.recipe_hash for r in expected[:6]] == scored_hashes
    rng = random.Random(3)
    for _ in range(5):
        shuffled = rows[:]
        rng.shuffle(shuffled)
        assert [r.recipe_hash for r in rank_recipes(shuffled)] == [r.recipe_hash for r in expected]


def test_more_used_unscored_recipe_first_among_unscored():
    rarely = stat(recipe(hook_type="visual"), used=1)
    often = stat(recipe(hook_type="story"), used=9)
    assert rank_recipes([rarely, often])[0].recipe_hash == often.recipe_hash


def test_duplicate_rows_collapse_to_the_one_with_most_evidence():
    r = recipe()
    rows = [stat(r, n=2, avg=0.9), stat(r, n=10, avg=0.6)]
    ranked = rank_recipes(rows)
    assert len(ranked) == 1 and ranked[0].n_scored == 10
    assert rank_recipes(rows[::-1]) == ranked


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        rank_recipes([stat(recipe(), n=1, avg=0.5)], prior_strength=0)
    with pytest.raises(ValueError):
        RecipeStat.of(recipe(), scored_videos=-1)
    with pytest.raises(ValueError):
        RecipeStat.of(recipe(), scored_videos=1, avg_reward=float("nan"))
    assert rank_recipes([]) == []
