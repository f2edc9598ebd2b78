"""The Bayesian additive model behind the model planner (issue 12): recovery, shrinkage, target, input checks.

Ground truth is a generated simulator world (``simulate/world.py``): its true logit is exactly the
model's form (additive field and content effects plus a daily cosine, which lies in the span of the
first hour harmonic), so on ``y = true logit + noise`` the posterior must find the world's effects.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from learning_loop.domain.additive import (
    TARGET_WEIGHTS,
    Vocabulary,
    design_matrix,
    fit_additive,
    hour_basis,
    model_target,
)
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS
from learning_loop.simulate.world import World, WorldConfig

NOISE_SD = 0.3


def _random_recipe(world: World, rng: np.random.Generator) -> dict:
    recipe = {}
    for name in RECIPE_FIELDS:
        values = world.presets if name == "preset" else ALLOWED_VALUES[name]
        recipe[name] = values[int(rng.integers(0, len(values)))]
    recipe["scene_count"] = int(recipe["scene_count"])
    return recipe


def _synthetic(world: World, n: int, seed: int, noise_sd: float = NOISE_SD):
    """n random (recipe, content type, hour) rows with y = the world's true logit + Gaussian noise."""
    rng = np.random.default_rng(seed)
    recipes = [_random_recipe(world, rng) for _ in range(n)]
    content = [world.content_types[int(i)] for i in rng.integers(0, len(world.content_types), n)]
    hours = [int(h) for h in rng.integers(0, 24, n)]
    truth = np.array([world.true_logit(r, c, h) for r, c, h in zip(recipes, content, hours)])
    return recipes, content, hours, truth + rng.normal(0.0, noise_sd, n)


@pytest.fixture(scope="module")
def world() -> World:
    return World.from_config(WorldConfig(seed=7))


@pytest.fixture(scope="module")
def big_fit(world):
    return fit_additive(*_synthetic(world, 3000, seed=1))


def _max_pairwise_error(estimated: dict, true: dict) -> float:
    """Largest error over all pairs of values of the estimated difference effect(a) - effect(b)."""
    keys = list(true)
    est = np.array([estimated[k] for k in keys])
    tru = np.array([true[k] for k in keys])
    return float(np.max(np.abs((est[:, None] - est[None, :]) - (tru[:, None] - tru[None, :]))))


def test_recovers_every_field_and_content_effect_difference_within_0_1(world, big_fit):
    effects = big_fit.mean_effects()
    for name in RECIPE_FIELDS:
        assert _max_pairwise_error(effects.fields[name], world.effects[name]) < 0.1, name
    assert _max_pairwise_error(effects.content, world.effects["content_type"]) < 0.1


def test_recovers_the_smooth_hour_curve_and_its_peak(world, big_fit):
    effects = big_fit.mean_effects()
    true_curve = np.array([world.effects["hour"][h] for h in range(24)])
    fitted = effects.hour_effects()
    assert np.max(np.abs((fitted - fitted.mean()) - (true_curve - true_curve.mean()))) < 0.1
    true_peak = int(np.argmax(true_curve))
    gap = abs(effects.best_hour() - true_peak)
    assert min(gap, 24 - gap) <= 1


def test_plug_in_noise_sd_is_close_to_the_true_noise(big_fit):
    assert big_fit.n == 3000
    assert big_fit.noise_sd == pytest.approx(NOISE_SD, rel=0.1)


def test_true_recipe_differences_lie_within_the_posterior_intervals(world, big_fit):
    """Calibration: a recipe difference's true value is within 3 posterior sd of its mean."""
    rng = np.random.default_rng(3)
    misses = 0
    for _ in range(40):
        a, b = _random_recipe(world, rng), _random_recipe(world, rng)
        row = big_fit.recipe_row(a) - big_fit.recipe_row(b)
        mean = float(row @ big_fit.mean)
        sd = float(np.linalg.norm(row @ big_fit.chol))
        truth = sum(world.effect(f, a[f]) - world.effect(f, b[f]) for f in RECIPE_FIELDS)
        misses += abs(mean - truth) > 3 * sd
    assert misses <= 1


def test_posterior_sd_shrinks_with_more_data(world):
    """The sd of what the data identify -- the difference between two recipes, the hour curve's shape --
    falls like 1/sqrt(n)."""
    recipes, content, hours, y = _synthetic(world, 3200, seed=2)
    a, b = (_random_recipe(world, np.random.default_rng(s)) for s in (9, 19))
    diff_sds, hour_sds = [], []
    for n in (100, 400, 1600, 3200):
        post = fit_additive(recipes[:n], content[:n], hours[:n], y[:n],
                            vocabulary=Vocabulary(world.presets, world.content_types))
        row = post.recipe_row(a) - post.recipe_row(b)
        diff_sds.append(float(np.linalg.norm(row @ post.chol)))
        hour_sds.append(float(np.sqrt(np.diag(post.cov)[-4:]).max()))
    for sds in (diff_sds, hour_sds):
        assert all(later < earlier for earlier, later in zip(sds, sds[1:])), sds
        assert sds[-1] < 0.5 * sds[1], sds  # 8x the data: about sqrt(8) narrower once the prior stops mattering


def test_recipe_value_is_intercept_plus_field_effects_and_its_sd_the_quadratic_form(world, big_fit):
    recipe = _random_recipe(world, np.random.default_rng(4))
    mean, sd = big_fit.recipe_value(recipe)
    assert mean == pytest.approx(big_fit.mean_effects().recipe_value(recipe))
    row = big_fit.recipe_row(recipe)
    cols = big_fit.vocabulary.columns
    contents = big_fit.vocabulary.content_types
    assert {cols[i] for i in np.flatnonzero(row)} == {("intercept", None)} | {
        (f, recipe[f]) for f in RECIPE_FIELDS} | {("content_type", c) for c in contents}
    assert all(row[cols.index(("content_type", c))] == pytest.approx(1 / len(contents)) for c in contents)
    assert sd == pytest.approx(math.sqrt(row @ big_fit.cov @ row))


def test_a_recipes_posterior_sd_shrinks_with_data(world):
    """The value is identifiable (intercept + average content effect), so its sd goes to 0 with n."""
    recipe = _random_recipe(world, np.random.default_rng(4))
    sds = []
    for n in (100, 400, 1600):
        rng = np.random.default_rng(n)
        recipes = [_random_recipe(world, rng) for _ in range(n)]
        contents = [world.content_types[int(rng.integers(0, len(world.content_types)))] for _ in range(n)]
        hours = [int(rng.integers(0, 24)) for _ in range(n)]
        y = [world.true_logit(r, c, h) + rng.normal(0, 0.5) for r, c, h in zip(recipes, contents, hours)]
        sds.append(fit_additive(recipes, contents, hours, y).recipe_value(recipe)[1])
    assert sds[0] > sds[1] > sds[2] and sds[2] < 0.5 * sds[0]


def test_sampling_is_exact_and_reproducible_for_a_seed(world, big_fit):
    a = big_fit.sample_coef(np.random.default_rng(5), size=4)
    b = big_fit.sample_coef(np.random.default_rng(5), size=4)
    c = big_fit.sample_coef(np.random.default_rng(6), size=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    e1, e2 = big_fit.sample(np.random.default_rng(8)), big_fit.sample(np.random.default_rng(8))
    assert e1.fields == e2.fields and e1.content == e2.content
    np.testing.assert_array_equal(e1.hour_coef, e2.hour_coef)
    # the draws have the posterior's mean and covariance
    draws = big_fit.sample_coef(np.random.default_rng(10), size=20000)
    sd = np.sqrt(np.diag(big_fit.cov))
    assert np.all(np.abs(draws.mean(axis=0) - big_fit.mean) < 5 * sd / math.sqrt(len(draws)))
    np.testing.assert_allclose(np.cov(draws.T), big_fit.cov, atol=0.05 * sd.max() ** 2)


def test_default_vocabulary_is_the_sorted_presets_and_content_types_seen(world):
    recipes, content, hours, y = _synthetic(world, 50, seed=11)
    content[0] = None  # an unknown content type has no column and is allowed
    post = fit_additive(recipes, content, hours, y)
    assert post.vocabulary.presets == tuple(sorted({r["preset"] for r in recipes}))
    assert post.vocabulary.content_types == tuple(sorted({c for c in content if c is not None}))
    cols = post.vocabulary.columns
    assert cols[0] == ("intercept", None) and len(cols) == len(post.mean)
    x = design_matrix(post.vocabulary, recipes, content, hours)
    assert x.shape == (50, len(cols))
    assert x[0, [i for i, c in enumerate(cols) if c[0] == "content_type"]].sum() == 0
    np.testing.assert_allclose(x[:, -4:], hour_basis(np.array(hours)))


def test_hour_basis_is_periodic_with_four_harmonic_columns():
    basis = hour_basis(np.arange(24))
    assert basis.shape == (24, 4)
    np.testing.assert_allclose(hour_basis(24.0), basis[0], atol=1e-12)
    np.testing.assert_allclose(hour_basis(6.0), [0.0, 1.0, -1.0, 0.0], atol=1e-12)


# ---------------------------------------------------------------- the target


def _metrics(world: World, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    avd, views, er = [], [], []
    for i in range(n):
        real = world.realise(i // 10, i % 10, _random_recipe(world, rng), world.content_types[i % 4], 6 + i % 18)
        avd.append(real.avg_view_duration_s)
        views.append(real.final_views * (1 - math.exp(-6.0 / world.view_growth_hours)))
        er.append(real.engagement_rate)
    return np.array(avd), np.array(views), np.array(er)


def test_model_target_is_invariant_to_affine_changes_of_its_inputs(world):
    avd, views, er = _metrics(world, 300)
    y = model_target(avd, views, er)
    assert y.mean() == pytest.approx(0.0, abs=1e-12)
    # avg view duration enters linearly: any positive affine change gives the very same target
    np.testing.assert_allclose(model_target(3.0 * avd + 7.0, views, er), y, atol=1e-12)
    # views and engagement enter through logs: a change of scale (units) is a shift, the target is the same
    # (up to log1p and the engagement floor, so near-ties may swap) and so is the videos' ranking
    rescaled = model_target(avd, 10.0 * views, 100.0 * er)
    np.testing.assert_allclose(rescaled, y, atol=1e-2)
    assert spearmanr(rescaled, y).statistic > 0.9999


def test_model_target_weights_the_standardised_metrics():
    avd = np.array([10.0, 20.0, 30.0, 40.0])
    flat = np.full(4, 100.0)
    only_avd = model_target(avd, flat, np.full(4, 0.02))
    assert only_avd.std() == pytest.approx(TARGET_WEIGHTS[0])
    only_views = model_target(np.full(4, 20.0), np.expm1(avd), np.full(4, 0.02))
    assert only_views.std() == pytest.approx(TARGET_WEIGHTS[1])
    assert list(np.argsort(only_views)) == [0, 1, 2, 3]
    # negative views and engagement are floored, not NaN
    assert np.all(np.isfinite(model_target(avd, [-5.0, 0.0, 3.0, 9.0], [-0.1, 0.0, 0.01, 0.02])))


@pytest.mark.parametrize(
    ("avd", "views", "er"),
    [
        ([20.0, 30.0], [100.0, 200.0, 300.0], [0.01, 0.02]),  # mismatched lengths
        ([], [], []),  # empty
        ([20.0, float("nan")], [100.0, 200.0], [0.01, 0.02]),
        ([20.0, 30.0], [100.0, float("inf")], [0.01, 0.02]),
        ([20.0, 30.0], [100.0, 200.0], [0.01, float("nan")]),
    ],
)
def test_model_target_rejects_bad_input(avd, views, er):
    with pytest.raises(ValueError):
        model_target(avd, views, er)


@pytest.mark.parametrize("bad", ["recipes", "content", "hours", "target", "empty", "nan_target", "inf_hour"])
def test_fit_rejects_bad_input(world, bad):
    recipes, content, hours, y = _synthetic(world, 10, seed=13)
    y = list(y)
    if bad == "recipes":
        recipes = recipes[:-1]
    elif bad == "content":
        content = content + ["story"]
    elif bad == "hours":
        hours = hours[:5]
    elif bad == "target":
        y = y[:-2]
    elif bad == "empty":
        recipes, content, hours, y = [], [], [], []
    elif bad == "nan_target":
        y[3] = float("nan")
    elif bad == "inf_hour":
        hours[2] = float("inf")
    with pytest.raises(ValueError):
        fit_additive(recipes, content, hours, y)


def test_fit_on_one_video_is_finite(world):
    recipes, content, hours, y = _synthetic(world, 1, seed=14)
    post = fit_additive(recipes, content, hours, y)
    assert np.all(np.isfinite(post.mean)) and np.all(np.isfinite(post.chol)) and post.noise_sd > 0
