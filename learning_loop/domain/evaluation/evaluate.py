"""Evaluate one target policy on logged rounds: weights, reward model, IPW / SNIPW / DR, notes.

A logged round is one planned job whose video got a reward: its action (recipe, content
type, hour), the logged propensity ``π_b(a|x)`` (the joint probability the planner recorded), the reward
and the key of its context (the batch), under which the caller supplies the target policy.
For ``current`` (no target policies given) the target *is* the logging policy: every weight
is 1, and ``q̂_π(x_i)`` is estimated by ``q̂(x_i, a_i)`` (the logged action is a draw from that
very policy, and only its probability was logged), so all three estimators equal the logged
mean reward — a sanity check of the pipeline, not a new number.

Pure: no Dagster, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from learning_loop.domain.evaluation.actions import Action
from learning_loop.domain.evaluation.estimators import (
    DEFAULT_BOOTSTRAP_SAMPLES,
    DEFAULT_LEVEL,
    DEFAULT_SEED,
    Estimate,
    WeightDiagnostics,
    doubly_robust,
    importance_weights,
    ipw,
    snipw,
    weight_diagnostics,
)
from learning_loop.domain.evaluation.reward_model import DEFAULT_ALPHA, DEFAULT_FOLDS, fit_cross_fitted_ridge
from learning_loop.domain.evaluation.target_policies import CURRENT, FactorisedPolicy

#: Below this effective sample size the notes warn that the estimate rests on a handful of rounds.
MIN_TRUSTED_ESS = 30.0


@dataclass(frozen=True)
class LoggedRound:
    action: Action
    reward: float
    propensity: float  # π_b(a|x) as logged: the joint probability of (recipe, content type, hour)
    context: str  # key of the round's target policy (its batch id)


@dataclass(frozen=True)
class PolicyEvaluation:
    policy: str
    rounds: int
    logged_mean_reward: float
    estimates: Mapping[str, Estimate]  # ipw, snipw, dr
    weights: WeightDiagnostics
    notes: tuple[str, ...]


def _notes(weights: WeightDiagnostics, current: bool, cross_fitted: bool, undecided: int) -> list[str]:
    notes: list[str] = []
    if current:
        notes.append("policy current: the logged propensities are the target, every weight is 1, "
                     "so the estimates equal the logged mean reward (a sanity check)")
    elif weights.zero_weight_rounds == weights.n:
        notes.append("the target policy chooses none of the logged actions (every weight is 0): these rounds say "
                     "nothing about it — ipw is 0 and snipw undefined by construction, "
                     "dr is only the reward model's guess")
    else:
        if weights.effective_sample_size < MIN_TRUSTED_ESS:
            notes.append(f"effective sample size {weights.effective_sample_size:.1f} < {MIN_TRUSTED_ESS:.0f}: "
                         "too few rounds effectively carry the estimate; treat it and its interval as rough")
        elif weights.effective_sample_size < 0.1 * weights.n:
            notes.append(f"effective sample size {weights.effective_sample_size:.1f} is under 10% of "
                         f"{weights.n} rounds: the target policy differs a lot from the logging policy")
        if weights.zero_weight_rounds:
            notes.append(f"{weights.zero_weight_rounds} of {weights.n} rounds chose an action the target "
                         "policy never chooses (weight 0)")
        if abs(weights.mean_weight - 1.0) > 0.5:
            notes.append(f"mean weight {weights.mean_weight:.3g} is far from 1: the logging policy may not cover "
                         "the target's actions, or the logged propensities are off; prefer snipw/dr")
    if not cross_fitted:
        notes.append("too few rounds to cross-fit the reward model: dr's q̂ was fitted on all rounds")
    if undecided:
        notes.append(f"{undecided} rounds had no content type or posting hour chosen by the planner; "
                     "that factor counts as probability 1 for every policy")
    return notes


def evaluate_policy(
    rounds: Sequence[LoggedRound],
    policies: Mapping[str, FactorisedPolicy] | None,
    policy: str = CURRENT,
    level: float = DEFAULT_LEVEL,
    n_bootstrap: int = DEFAULT_BOOTSTRAP_SAMPLES,
    seed: int = DEFAULT_SEED,
    n_folds: int = DEFAULT_FOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> PolicyEvaluation:
    """IPW, SNIPW and DR of a target policy over ``rounds``.

    ``policies`` maps each round's ``context`` to its target policy; ``None`` evaluates the
    logging policy itself (``current``). Raises ValueError for no rounds, a context without
    a policy, a propensity outside (0, 1] or a reward outside [0, 1].
    """
    if not rounds:
        raise ValueError("no logged rounds to evaluate")
    actions = [r.action for r in rounds]
    rewards = np.array([r.reward for r in rounds], dtype=float)
    if np.any(~np.isfinite(rewards)) or np.any(rewards < 0) or np.any(rewards > 1):
        raise ValueError("rewards must be within [0, 1]")
    logged = np.array([r.propensity for r in rounds], dtype=float)
    model = fit_cross_fitted_ridge(actions, rewards, n_folds=n_folds, alpha=alpha, seed=seed)
    q_logged = model.predict_rows(model.encoding.encode(actions))
    current = policies is None
    if current:
        target = logged.copy()
        q_target = q_logged
    else:
        missing = sorted({r.context for r in rounds} - set(policies))
        if missing:
            raise ValueError(f"no target policy for context {missing[0]!r}")
        target = np.array([policies[r.context].probability(r.action) for r in rounds])
        cache: dict[tuple, np.ndarray] = {}  # one expectation per (context, undecided factors)
        for r in rounds:
            key = (r.context, r.action.content_type is None, r.action.hour is None)
            if key not in cache:
                cache[key] = model.encoding.expected(policies[r.context].marginals(r.action))
        expected = np.array([cache[(r.context, r.action.content_type is None, r.action.hour is None)] for r in rounds])
        q_target = model.predict_rows(expected)
    weights = importance_weights(target, logged)
    options = {"level": level, "n_bootstrap": n_bootstrap, "seed": seed}
    estimates = {
        "ipw": ipw(rewards, weights, **options),
        "snipw": snipw(rewards, weights, **options),
        "dr": doubly_robust(rewards, weights, q_logged, q_target, **options),
    }
    diagnostics = weight_diagnostics(weights)
    undecided = sum(1 for a in actions if a.content_type is None or a.hour is None)
    return PolicyEvaluation(
        policy=policy,
        rounds=len(rounds),
        logged_mean_reward=float(np.mean(rewards)),
        estimates=estimates,
        weights=diagnostics,
        notes=tuple(_notes(diagnostics, current, model.cross_fitted, undecided)),
    )
