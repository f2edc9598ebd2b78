"""Off-policy estimates against the simulator's ground truth.

The environment is a simulated world (``simulate/world.py``). A stochastic logging policy with
known propensities — epsilon-greedy toward the worst value, independently per factor (six
recipe fields, content type, hour), so every action has positive probability — logs a few
thousand rounds with reward ``world.realise(day, slot, …).observed_reward``. The target is the
uniform policy; its true value is the mean of ``observed_reward`` over uniformly drawn actions,
estimated by a large Monte Carlo with the same ``realise`` (fresh days, so fresh noise).
"""

from __future__ import annotations

import math

import numpy as np

from learning_loop.domain.evaluation import Action, LoggedRound, evaluate_policy, uniform_policy
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.simulate.world import FACTORS, World, WorldConfig

EPSILON = 0.7  # share of uniform choices per factor (the rest: the factor's worst value)
ROUNDS = 3000
TRUTH_DRAWS = 20000
PER_DAY = 20


def _realise(world: World, i: int, day_offset: int, choice: dict) -> float:
    recipe = {f: choice[f] for f in RECIPE_FIELDS}
    real = world.realise(day_offset + i // PER_DAY, i % PER_DAY, recipe, choice["content_type"], choice["hour"])
    return real.observed_reward


def test_ipw_and_dr_bracket_the_uniform_policys_true_value_and_dr_is_tighter():
    world = World.from_config(WorldConfig(seed=5))
    rng = np.random.default_rng(105)
    domains = {f: world.domain(f) for f in FACTORS}
    favourite = {f: min(domains[f], key=lambda v, f=f: world.effect(f, v)) for f in FACTORS}  # the worst values

    rounds = []
    for i in range(ROUNDS):
        choice, propensity = {}, 1.0
        for f in FACTORS:
            values = domains[f]
            value = values[int(rng.integers(len(values)))] if rng.random() < EPSILON else favourite[f]
            propensity *= EPSILON / len(values) + (1 - EPSILON) * (value == favourite[f])
            choice[f] = value
        action = Action.of({f: choice[f] for f in RECIPE_FIELDS}, choice["content_type"], choice["hour"])
        rounds.append(LoggedRound(action, _realise(world, i, 0, choice), propensity, "batch"))

    target = {"batch": uniform_policy(world.presets, world.content_types)}
    result = evaluate_policy(rounds, target, "uniform", n_bootstrap=1000, seed=0)

    truth_draws = [
        _realise(world, j, 100_000, {f: domains[f][int(rng.integers(len(domains[f])))] for f in FACTORS})
        for j in range(TRUTH_DRAWS)
    ]
    truth = float(np.mean(truth_draws))
    assert np.std(truth_draws) / math.sqrt(TRUTH_DRAWS) < 0.002  # the truth is known well enough

    ipw, dr = result.estimates["ipw"], result.estimates["dr"]
    assert ipw.ci_low <= truth <= ipw.ci_high, (truth, ipw)
    assert dr.ci_low <= truth <= dr.ci_high, (truth, dr)
    assert dr.ci_high - dr.ci_low < 0.6 * (ipw.ci_high - ipw.ci_low)
    # the logging policy leans to the worst values: its own mean is well below the target's value
    assert result.logged_mean_reward < dr.ci_low
    assert 0.9 < result.weights.mean_weight < 1.1 and result.weights.effective_sample_size > 200
