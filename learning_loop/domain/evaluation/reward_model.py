"""The reward model ``q̂(x, a)`` behind the doubly robust estimator: additive ridge, cross-fitted.

Features of an action: one-hot of each recipe field's value and of the content type, plus
``cos(2πh/24)`` and ``sin(2πh/24)`` of the posting hour (a smooth daily cycle with two
parameters instead of 24). The vocabulary is the values seen in the logged rounds; a value
outside it (or an undecided factor, ``None``) encodes as all zeros, i.e. the model's baseline.
The model is **linear in these features**, so its expectation under a policy is the model
applied to the *expected* feature vector — which only needs the policy's per-factor marginals
(:func:`ActionEncoding.expected`). That makes DR's ``q̂_π(x) = Σ_a π(a|x) q̂(x, a)`` exact
without enumerating the (recipe × content × hour) action space. Predictions are not clipped
to [0, 1]: clipping would break that exactness, and DR's correction term absorbs the error.

Cross-fitting (as OBP's ``RegressionModel.fit_predict(n_folds=K)`` recommends): the rounds
are split into ``K`` shuffled folds (seeded); each fold's ``q̂`` is a ridge fitted on the other
folds, so no round's reward is used to predict that round. With fewer than 2 rounds per fold
available the model is fitted once on all rounds (``cross_fitted = False``).

Pure: scikit-learn and numpy; no Dagster, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from learning_loop.domain.evaluation.actions import FACTORS, HOUR, Action, Marginals

DEFAULT_FOLDS = 5
DEFAULT_ALPHA = 1.0
ONE_HOT_FACTORS: tuple[str, ...] = tuple(f for f in FACTORS if f != HOUR)


def _hour_features(hour: Any) -> tuple[float, float]:
    if hour is None:
        return 0.0, 0.0
    angle = 2.0 * math.pi * int(hour) / 24.0
    return math.cos(angle), math.sin(angle)


@dataclass(frozen=True)
class ActionEncoding:
    """Column layout: for each one-hot factor its vocabulary, then hour cos and sin."""

    vocabulary: Mapping[str, tuple]

    @classmethod
    def from_actions(cls, actions: Sequence[Action]) -> "ActionEncoding":
        vocabulary = {}
        for factor in ONE_HOT_FACTORS:
            seen = {a.value(factor) for a in actions} - {None}
            vocabulary[factor] = tuple(sorted(seen, key=lambda v: (str(type(v)), v)))
        return cls(vocabulary)

    @property
    def width(self) -> int:
        return sum(len(v) for v in self.vocabulary.values()) + 2

    def _offsets(self) -> dict[str, dict[Any, int]]:
        offsets, start = {}, 0
        for factor in ONE_HOT_FACTORS:
            values = self.vocabulary[factor]
            offsets[factor] = {v: start + i for i, v in enumerate(values)}
            start += len(values)
        return offsets

    def encode(self, actions: Sequence[Action]) -> np.ndarray:
        """(n, width) design matrix of the actions."""
        offsets = self._offsets()
        matrix = np.zeros((len(actions), self.width))
        for row, action in enumerate(actions):
            for factor in ONE_HOT_FACTORS:
                column = offsets[factor].get(action.value(factor))
                if column is not None:
                    matrix[row, column] = 1.0
            matrix[row, -2:] = _hour_features(action.hour)
        return matrix

    def expected(self, marginals: Marginals) -> np.ndarray:
        """E[features] under a policy with these per-factor marginals (so E[q̂] = q̂(E[features]))."""
        offsets = self._offsets()
        vector = np.zeros(self.width)
        for factor in ONE_HOT_FACTORS:
            for value, p in marginals.get(factor, {}).items():
                column = offsets[factor].get(value)
                if column is not None:
                    vector[column] += p
        for hour, p in marginals.get(HOUR, {}).items():
            c, s = _hour_features(hour)
            vector[-2] += p * c
            vector[-1] += p * s
        return vector


@dataclass(frozen=True)
class CrossFittedRidge:
    """Per-fold ridge coefficients; row ``i`` is always predicted by the model of its own fold
    (trained without it)."""

    encoding: ActionEncoding
    folds: np.ndarray  # (n,) fold of each logged round
    intercepts: np.ndarray  # (K,)
    coefficients: np.ndarray  # (K, width)
    cross_fitted: bool

    def predict_rows(self, features: np.ndarray) -> np.ndarray:
        """``features[i]`` (a logged round's encoded action, or its expected features under a
        policy) predicted by round ``i``'s fold model."""
        features = np.asarray(features, dtype=float)
        if features.shape != (len(self.folds), self.encoding.width):
            shape = (len(self.folds), self.encoding.width)
            raise ValueError(f"expected features of shape {shape}, got {features.shape}")
        return np.einsum("ij,ij->i", features, self.coefficients[self.folds]) + self.intercepts[self.folds]


def fit_cross_fitted_ridge(
    actions: Sequence[Action],
    rewards: Sequence[float],
    n_folds: int = DEFAULT_FOLDS,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> CrossFittedRidge:
    """Fit the additive ridge ``q̂`` with ``n_folds``-fold cross-fitting (see the module docstring)."""
    y = np.asarray(rewards, dtype=float)
    if len(actions) != len(y):
        raise ValueError("actions and rewards differ in length")
    if len(y) == 0:
        raise ValueError("no rounds to fit a reward model on")
    encoding = ActionEncoding.from_actions(actions)
    x = encoding.encode(actions)
    k = min(n_folds, len(y) // 2)
    if k < 2:
        model = Ridge(alpha=alpha).fit(x, y)
        return CrossFittedRidge(encoding, np.zeros(len(y), dtype=int), np.array([model.intercept_]),
                                model.coef_[np.newaxis, :], cross_fitted=False)
    folds = np.zeros(len(y), dtype=int)
    intercepts, coefficients = np.zeros(k), np.zeros((k, encoding.width))
    for fold, (train, held_out) in enumerate(KFold(n_splits=k, shuffle=True, random_state=seed).split(x)):
        model = Ridge(alpha=alpha).fit(x[train], y[train])
        folds[held_out] = fold
        intercepts[fold], coefficients[fold] = model.intercept_, model.coef_
    return CrossFittedRidge(encoding, folds, intercepts, coefficients, cross_fitted=True)
