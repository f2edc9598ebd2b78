"""Target policies (uniform, seeds), their factor marginals, and the additive reward model's exact expectation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from learning_loop.domain import bandits
from learning_loop.domain.evaluation import (
    Action,
    BatchContext,
    LoggedRound,
    ProductRecipe,
    RecipeAverage,
    SeedsRecipe,
    evaluate_policy,
    exploit_recipe,
    explore_probability,
    fit_cross_fitted_ridge,
    seeds_policy,
    thompson_shares,
    ucb1_shares,
    uniform_policy,
)
from learning_loop.domain.evaluation.actions import CONTENT, FACTORS, HOUR
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS, recipe_hash

PRESETS = ("NEON_NOIR", "WHITEBOARD_SKETCH")
TOP = {"preset": "NEON_NOIR", "hook_type": "question", "scene_count": 7, "narration_wpm_bucket": "medium",
       "caption_density_bucket": "medium", "ending_type": "cliffhanger"}


def _arms() -> pd.DataFrame:
    frame = pd.DataFrame({
        "project_id": "p",
        "content_type": ["edu"] * 6 + ["story"] * 3 + [None] * 2,
        "published_at": pd.to_datetime(["2024-01-01 05:00"] * 4 + ["2024-01-01 14:00"] * 7, utc=True),
        "engagement_rate": [0.05, 0.05, 0.01, 0.06, 0.01, 0.2, 0.04, 0.01, 0.01, 0.05, 0.05],
    })
    return bandits.arm_table(frame)


def _context(**changes) -> BatchContext:
    base = dict(
        batch_id="b1", n_jobs=5, explore_ratio=0.3,
        recipe_stats=(RecipeAverage(recipe_hash(TOP), TOP, 0.7),
                      RecipeAverage(recipe_hash({**TOP, "hook_type": "story"}), {**TOP, "hook_type": "story"}, 0.4)),
        arms=_arms(), presets=PRESETS, content_types=("edu", "story"),
    )
    return BatchContext(**{**base, **changes})


# ----------------------------------------------------------------------------- uniform


def test_uniform_factors_each_sum_to_one_and_the_product_is_right():
    policy = uniform_policy(PRESETS, ["Edu", "story", None])
    marginals = policy.marginals()
    for factor in FACTORS:
        assert sum(marginals[factor].values()) == pytest.approx(1.0), factor
    assert set(marginals[CONTENT]) == {"edu", "story"}  # normalised, unknown dropped
    assert set(marginals[HOUR]) == set(range(24))
    assert sum(p for _, p in policy.recipe.support()) == pytest.approx(1.0)
    action = Action.of(TOP, "edu", 9)
    expected = (1 / 2) * (1 / 6) * (1 / 6) * (1 / 3) * (1 / 3) * (1 / 4) * (1 / 2) * (1 / 24)
    assert policy.probability(action) == pytest.approx(expected)
    assert policy.probability(Action.of({**TOP, "preset": "UNSEEN"}, "edu", 9)) == 0.0
    assert policy.factor_probabilities(Action.of(TOP, None, None))[1:] == (1.0, 1.0)  # undecided factors


# ----------------------------------------------------------------------------- seeds recipe


def test_explore_probability_rounds_like_the_seeds():
    assert explore_probability(5, 0.3) == pytest.approx(2 / 5)  # floor(1.5 + 0.5) = 2
    assert explore_probability(1, 0.3) == 0.0 and explore_probability(10, 0.3) == pytest.approx(0.3)


def test_exploit_recipe_is_the_highest_raw_average_ties_by_hash():
    a, b = {**TOP, "hook_type": "story"}, {**TOP, "hook_type": "visual"}
    stats_ = [RecipeAverage(recipe_hash(a), a, 0.8), RecipeAverage(recipe_hash(b), b, 0.8),
              RecipeAverage(recipe_hash(TOP), TOP, None)]
    low = min((recipe_hash(a), a), (recipe_hash(b), b))[1]
    assert exploit_recipe(stats_) == low
    assert exploit_recipe([RecipeAverage("h", TOP, None)]) is None


def test_seeds_recipe_support_and_marginals_sum_to_one_and_agree():
    dist = SeedsRecipe(TOP, explore=0.4, presets=PRESETS)
    support = list(dist.support())
    assert sum(p for _, p in support) == pytest.approx(1.0)
    m = len(RECIPE_FIELDS)  # every field mutable (two presets seen)
    assert dist.probability(TOP) == pytest.approx(0.6)
    assert dist.probability({**TOP, "hook_type": "story"}) == pytest.approx(0.4 / (m * 5))
    assert dist.probability({**TOP, "preset": "WHITEBOARD_SKETCH"}) == pytest.approx(0.4 / (m * 1))
    assert dist.probability({**TOP, "hook_type": "story", "scene_count": 5}) == 0.0  # two fields changed
    marginals = dist.field_marginals()
    for name in RECIPE_FIELDS:
        assert sum(marginals[name].values()) == pytest.approx(1.0)
        from_support: dict = {}
        for recipe, p in support:
            from_support[recipe[name]] = from_support.get(recipe[name], 0.0) + p
        assert marginals[name] == pytest.approx(from_support)


def test_single_preset_is_not_mutable():
    dist = SeedsRecipe(TOP, explore=0.4, presets=("NEON_NOIR",))
    assert "preset" not in dist.mutable_fields
    assert dist.probability({**TOP, "hook_type": "story"}) == pytest.approx(0.4 / (5 * 5))
    assert sum(p for _, p in dist.support()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- seeds content and hour


def _p_argmax(alpha: np.ndarray, beta: np.ndarray, i: int) -> float:
    """P(draw i is the largest of independent Beta draws), by numeric integration."""
    def density(x: float) -> float:
        others = [stats.beta.cdf(x, a, b) for j, (a, b) in enumerate(zip(alpha, beta)) if j != i]
        return stats.beta.pdf(x, alpha[i], beta[i]) * math.prod(others)
    return integrate.quad(density, 0.0, 1.0)[0]


def test_thompson_shares_for_one_job_are_the_argmax_probabilities():
    arms = pd.DataFrame({"arm": ["content_a", "content_b", "content_c"],
                         "alpha": [3.0, 2.0, 1.0], "beta": [2.0, 2.0, 1.0]})
    shares = thompson_shares(arms, 1, samples=20000, seed=1)
    assert sum(shares.values()) == pytest.approx(1.0)
    for i, name in enumerate("abc"):
        assert shares[name] == pytest.approx(_p_argmax(arms["alpha"].to_numpy(), arms["beta"].to_numpy(), i), abs=0.015)


def test_thompson_shares_for_a_batch_match_thompson_select():
    arms = pd.DataFrame({"arm": ["content_b", "content_a"], "alpha": [4.0, 2.0], "beta": [2.0, 3.0]})
    shares = thompson_shares(arms, 4, samples=8000, seed=2)
    picks = [p for s in range(400) for p in bandits.thompson_select(arms, 4, s)]
    empirical = pd.Series(picks).value_counts(normalize=True)
    for name in ("a", "b"):
        assert shares[name] == pytest.approx(empirical["content_" + name], abs=0.04)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_ucb1_shares_are_the_share_of_the_batch_picks():
    timing = _arms()
    timing = timing[timing["arm_type"] == "timing"]
    shares = ucb1_shares(timing, 30)
    picks = bandits.ucb1_select(timing, 30)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(shares[h] == pytest.approx(picks.count(h) / 30) for h in set(picks))


def test_seeds_policy_factors_each_sum_to_one():
    policy = seeds_policy(_context(), samples=2000)
    marginals = policy.marginals()
    for factor in FACTORS:
        assert sum(marginals[factor].values()) == pytest.approx(1.0), factor
    assert set(marginals[CONTENT]) == {"edu", "story"}  # content_unknown is never a choice
    assert policy.recipe.probability(TOP) == pytest.approx(1 - 2 / 5)
    assert policy.probability(Action.of(TOP, "edu", 14)) == pytest.approx(
        0.6 * marginals[CONTENT]["edu"] * marginals[HOUR].get(14, 0.0)
    )


def test_seeds_policy_without_arms_or_scores():
    policy = seeds_policy(_context(arms=pd.DataFrame(), recipe_stats=(), n_jobs=3), samples=500)
    assert policy.content == {"edu": 0.5, "story": 0.5}
    assert policy.hour == pytest.approx({0: 1 / 3, 1: 1 / 3, 2: 1 / 3})  # UCB1 plays untried hours first
    assert isinstance(policy.recipe, ProductRecipe)  # nothing scored: every field uniform
    assert sum(p for _, p in policy.recipe.support()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- reward model


def _logged(n: int, seed: int = 0) -> tuple[list[Action], np.ndarray]:
    rng = np.random.default_rng(seed)
    actions, rewards = [], []
    for _ in range(n):
        recipe = {f: (PRESETS if f == "preset" else ALLOWED_VALUES[f])[int(rng.integers(0, 2))] for f in RECIPE_FIELDS}
        actions.append(Action.of(recipe, ("edu", "story")[int(rng.integers(0, 2))], int(rng.integers(0, 24))))
        rewards.append(float(rng.uniform()))
    return actions, np.array(rewards)


def test_additive_expectation_is_exact_under_a_factorised_policy():
    actions, rewards = _logged(60)
    model = fit_cross_fitted_ridge(actions, rewards, n_folds=3)
    policy = seeds_policy(_context(), samples=500)
    marginals = policy.marginals()
    expected = model.encoding.expected(marginals)
    # brute force: Σ_a π(a) q̂(a) over the whole support (recipe support × content × hour)
    joint = [
        (Action.of(recipe, c, h), p * pc * ph)
        for (recipe, p), (c, pc), (h, ph) in itertools.product(
            policy.recipe.support(), marginals[CONTENT].items(), marginals[HOUR].items())
    ]
    features = model.encoding.encode([a for a, _ in joint])
    probs = np.array([p for _, p in joint])
    assert probs.sum() == pytest.approx(1.0)
    assert features.T @ probs == pytest.approx(expected)
    row0 = np.tile(expected, (len(actions), 1))
    brute = (features @ model.coefficients[model.folds[0]] + model.intercepts[model.folds[0]]) @ probs
    assert model.predict_rows(row0)[0] == pytest.approx(brute)


def test_cross_fitting_never_predicts_a_round_from_its_own_reward():
    actions, rewards = _logged(40)
    model = fit_cross_fitted_ridge(actions, rewards, n_folds=4, seed=1)
    changed = rewards.copy()
    changed[0] = 1.0 - changed[0]
    other = fit_cross_fitted_ridge(actions, changed, n_folds=4, seed=1)
    x = model.encoding.encode(actions)
    assert model.cross_fitted and len(set(model.folds.tolist())) == 4
    assert other.predict_rows(x)[0] == pytest.approx(model.predict_rows(x)[0])
    assert not np.allclose(other.predict_rows(x), model.predict_rows(x))  # the other folds did change
    assert not fit_cross_fitted_ridge(actions[:3], rewards[:3]).cross_fitted


def test_current_policy_estimates_equal_the_logged_mean():
    actions, rewards = _logged(30)
    rounds = [LoggedRound(a, float(r), 0.01, "b") for a, r in zip(actions, rewards)]
    result = evaluate_policy(rounds, None, "current", n_bootstrap=200)
    for name in ("ipw", "snipw", "dr"):
        assert result.estimates[name].value == pytest.approx(rewards.mean())
    assert result.weights.effective_sample_size == pytest.approx(30) and result.weights.mean_weight == 1.0
    with pytest.raises(ValueError, match="no target policy"):
        evaluate_policy(rounds, {"other": uniform_policy(PRESETS, ["edu"])}, "uniform")
