"""Off-policy evaluation of planning policies from logged propensities (issue 12, item 4).

"What would the mean reward have been had we planned with policy π?" — answered from the
jobs the platform actually planned, each logged with the probability its planner gave the
chosen (recipe, content type, hour). Modules: ``actions`` (the joint action and factor
marginals), ``estimators`` (IPW, SNIPW, DR with bootstrap intervals; OBP's definitions),
``target_policies`` (uniform, seeds, current; factorised), ``reward_model`` (cross-fitted
additive ridge for DR) and ``evaluate`` (all of it for one policy). See
docs/off_policy_evaluation.md. Pure: no Dagster, no database, no environment.
"""

from __future__ import annotations

from learning_loop.domain.evaluation.actions import FACTORS, Action, Marginals
from learning_loop.domain.evaluation.estimators import (
    Estimate,
    WeightDiagnostics,
    bootstrap_ratio_interval,
    doubly_robust,
    importance_weights,
    ipw,
    snipw,
    weight_diagnostics,
)
from learning_loop.domain.evaluation.evaluate import LoggedRound, PolicyEvaluation, evaluate_policy
from learning_loop.domain.evaluation.reward_model import ActionEncoding, CrossFittedRidge, fit_cross_fitted_ridge
from learning_loop.domain.evaluation.target_policies import (
    CURRENT,
    POLICIES,
    SEEDS,
    UNIFORM,
    BatchContext,
    FactorisedPolicy,
    ProductRecipe,
    RecipeAverage,
    SeedsRecipe,
    exploit_recipe,
    explore_probability,
    seeds_policy,
    thompson_shares,
    ucb1_shares,
    uniform_policy,
)

__all__ = [
    "FACTORS", "Action", "Marginals",
    "Estimate", "WeightDiagnostics", "bootstrap_ratio_interval", "doubly_robust", "importance_weights", "ipw",
    "snipw", "weight_diagnostics",
    "LoggedRound", "PolicyEvaluation", "evaluate_policy",
    "ActionEncoding", "CrossFittedRidge", "fit_cross_fitted_ridge",
    "CURRENT", "POLICIES", "SEEDS", "UNIFORM", "BatchContext", "FactorisedPolicy", "ProductRecipe", "RecipeAverage",
    "SeedsRecipe", "exploit_recipe", "explore_probability", "seeds_policy", "thompson_shares", "ucb1_shares",
    "uniform_policy",
]
