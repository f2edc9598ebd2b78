"""A Bayesian additive model of what a video is worth: recipe fields + content type + a smooth hour.

Every video, whatever its recipe, teaches something about each of its field
values, so a recipe's value is estimated from *all* videos that share any of
its values, not only its own (the planner's reason to use it, issue 12)::

    y = b + sum over the six recipe fields f of beta_f[value]
          + gamma[content_type]
          + a1 cos(2 pi h/24) + b1 sin(2 pi h/24) + a2 cos(4 pi h/24) + b2 sin(4 pi h/24)
          + noise

Bayesian linear regression with independent Gaussian priors (``prior_sd`` for
field and content effects, ``hour_prior_sd`` for the four hour coefficients,
a wide one for the intercept) and a plug-in noise variance (the residual
variance of the posterior mean, with its effective degrees of freedom). The
posterior is Gaussian, so it can be sampled exactly (Thompson sampling) and
its mean and standard deviation are available for any recipe.

**The target** (:func:`model_target`) is a fixed transform of raw outcome
metrics, ``0.5 z(avg_view_duration_s) + 0.3 z(log1p views_6h) + 0.2
z(log(engagement_rate + 1e-4))`` with the same weights as the percentile
reward (SPEC §4), each standardised over the *training rows of this fit*.
Percentile rewards are relative to the trailing 30 days: as a project
improves, the same recipe's reward falls, so old and new rewards of one
recipe disagree and a model fitted on them chases a moving target. Raw
metrics do not drift with the project's own progress, and standardising
within one fit is one affine map for all its rows, which leaves every
comparison (and every argmax) the planner makes unchanged.

Pure: numpy only, no Dagster, no environment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS

HOURS: tuple[int, ...] = tuple(range(24))
#: Weights of the target's three standardised metrics (the percentile reward's, SPEC §4).
TARGET_WEIGHTS: tuple[float, float, float] = (0.5, 0.3, 0.2)
DEFAULT_PRIOR_SD = 0.5
DEFAULT_HOUR_PRIOR_SD = 0.3
DEFAULT_INTERCEPT_SD = 10.0
_ENGAGEMENT_FLOOR = 1e-4


def hour_basis(hour: float | np.ndarray) -> np.ndarray:
    """The smooth hour features: first and second daily harmonics (4 columns)."""
    h = np.asarray(hour, dtype=float) * (2.0 * math.pi / 24.0)
    return np.stack([np.cos(h), np.sin(h), np.cos(2 * h), np.sin(2 * h)], axis=-1)


def _z(values: np.ndarray) -> np.ndarray:
    sd = float(values.std())
    return (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)


def model_target(
    avg_view_duration_s: Sequence[float], views_6h: Sequence[float], engagement_rate: Sequence[float]
) -> np.ndarray:
    """The model's target per video (see the module docstring).

    Raises ValueError on empty or mismatched inputs and on non-finite metrics (a NaN would
    otherwise silently zero that metric's whole column through its standardisation)."""
    raw = [np.asarray(v, dtype=float) for v in (avg_view_duration_s, views_6h, engagement_rate)]
    if raw[0].ndim != 1 or any(v.shape != raw[0].shape for v in raw):
        raise ValueError("avg_view_duration_s, views_6h and engagement_rate must be 1-D and of the same length")
    if raw[0].size == 0:
        raise ValueError("the model target needs at least one video")
    if not all(np.all(np.isfinite(v)) for v in raw):
        raise ValueError("outcome metrics must be finite")
    avd = raw[0]
    views = np.log1p(np.maximum(raw[1], 0.0))
    er = np.log(np.maximum(raw[2], 0.0) + _ENGAGEMENT_FLOOR)
    w = TARGET_WEIGHTS
    return w[0] * _z(avd) + w[1] * _z(views) + w[2] * _z(er)


@dataclass(frozen=True)
class Vocabulary:
    """The values the model has a coefficient for, in a fixed order (the column layout)."""

    presets: tuple[str, ...]
    content_types: tuple[str, ...]

    def values(self, name: str) -> tuple:
        return self.presets if name == "preset" else tuple(ALLOWED_VALUES[name])

    @property
    def columns(self) -> list[tuple[str, Any]]:
        cols: list[tuple[str, Any]] = [("intercept", None)]
        for name in RECIPE_FIELDS:
            cols += [(name, v) for v in self.values(name)]
        cols += [("content_type", c) for c in self.content_types]
        cols += [("hour", k) for k in ("cos1", "sin1", "cos2", "sin2")]
        return cols


@dataclass(frozen=True)
class Effects:
    """One set of coefficients (the posterior mean or one posterior sample), readable by name."""

    intercept: float
    fields: Mapping[str, Mapping[Any, float]]
    content: Mapping[str, float]
    hour_coef: np.ndarray  # 4 values, see hour_basis

    def recipe_value(self, recipe: Mapping[str, Any]) -> float:
        """The recipe's value: the intercept, its six field effects and the average content type effect
        (see :meth:`AdditivePosterior.recipe_value`)."""
        content = float(np.mean(list(self.content.values()))) if self.content else 0.0
        fields = float(sum(self.fields[f].get(_key(f, recipe[f]), 0.0) for f in RECIPE_FIELDS))
        return self.intercept + fields + content

    def hour_effects(self) -> np.ndarray:
        """The smooth hour effect at each of the 24 hours."""
        return hour_basis(np.arange(24)) @ self.hour_coef

    def best_hour(self) -> int:
        return int(np.argmax(self.hour_effects()))


def _key(name: str, value: Any) -> Any:
    return int(value) if name == "scene_count" else value


@dataclass(frozen=True)
class AdditivePosterior:
    """The Gaussian posterior of the coefficients of one fit."""

    vocabulary: Vocabulary
    mean: np.ndarray
    chol: np.ndarray  # lower Cholesky factor of the posterior covariance
    noise_sd: float
    n: int
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({col: i for i, col in enumerate(self.vocabulary.columns)})

    @property
    def cov(self) -> np.ndarray:
        return self.chol @ self.chol.T

    def _effects(self, coef: np.ndarray) -> Effects:
        voc = self.vocabulary
        idx = self._index
        fields = {name: {v: float(coef[idx[(name, v)]]) for v in voc.values(name)} for name in RECIPE_FIELDS}
        content = {c: float(coef[idx[("content_type", c)]]) for c in voc.content_types}
        hour = np.array([coef[idx[("hour", k)]] for k in ("cos1", "sin1", "cos2", "sin2")], dtype=float)
        return Effects(float(coef[idx[("intercept", None)]]), fields, content, hour)

    def mean_effects(self) -> Effects:
        return self._effects(self.mean)

    def sample(self, rng: np.random.Generator) -> Effects:
        """One exact draw from the posterior (Thompson sampling)."""
        return self._effects(self.sample_coef(rng))

    def sample_coef(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        z = rng.standard_normal(self.mean.shape if size is None else (size, self.mean.shape[0]))
        return self.mean + z @ self.chol.T

    def effects_of(self, coef: np.ndarray) -> Effects:
        return self._effects(coef)

    def recipe_row(self, recipe: Mapping[str, Any]) -> np.ndarray:
        """The intercept and a recipe's six field values as an indicator row: recipe value = row @ coef."""
        row = np.zeros(self.mean.shape[0])
        row[self._index[("intercept", None)]] = 1.0
        content = self.vocabulary.content_types
        for c in content:  # at the average content type (the hour harmonics average to zero over a day)
            row[self._index[("content_type", c)]] = 1.0 / len(content)
        for name in RECIPE_FIELDS:
            i = self._index.get((name, _key(name, recipe[name])))
            if i is not None:
                row[i] = 1.0
        return row

    def recipe_value(self, recipe: Mapping[str, Any]) -> tuple[float, float]:
        """Posterior mean and standard deviation of a recipe's value: the intercept plus its six field
        effects and the average content type effect, i.e. the expected target of a video with this recipe at
        an average content type and hour. (Intercept and average content effect are identifiable together,
        so the sd is the uncertainty an operator cares about; they are common to all recipes, so they
        change no comparison.)"""
        row = self.recipe_row(recipe)
        sd = float(np.linalg.norm(row @ self.chol))
        return float(row @ self.mean), sd


def design_matrix(
    vocabulary: Vocabulary,
    recipes: Sequence[Mapping[str, Any]],
    content_types: Sequence[str | None],
    hours: Sequence[float],
) -> np.ndarray:
    cols = vocabulary.columns
    index = {col: i for i, col in enumerate(cols)}
    x = np.zeros((len(recipes), len(cols)))
    x[:, 0] = 1.0
    for r, recipe in enumerate(recipes):
        for name in RECIPE_FIELDS:
            i = index.get((name, _key(name, recipe[name])))
            if i is not None:
                x[r, i] = 1.0
        c = content_types[r]
        if c is not None and ("content_type", c) in index:
            x[r, index[("content_type", c)]] = 1.0
    x[:, -4:] = hour_basis(np.asarray(hours, dtype=float))
    return x


def fit_additive(
    recipes: Sequence[Mapping[str, Any]],
    content_types: Sequence[str | None],
    hours: Sequence[float],
    target: Sequence[float],
    *,
    vocabulary: Vocabulary | None = None,
    prior_sd: float = DEFAULT_PRIOR_SD,
    hour_prior_sd: float = DEFAULT_HOUR_PRIOR_SD,
    intercept_sd: float = DEFAULT_INTERCEPT_SD,
) -> AdditivePosterior:
    """Fit the model (see the module docstring). ``vocabulary`` defaults to the presets and
    content types seen in the rows (sorted)."""
    y = np.asarray(target, dtype=float)
    n = len(y)
    if not (len(recipes) == len(content_types) == len(hours) == n):
        raise ValueError("recipes, content_types, hours and target must have the same length")
    if n == 0:
        raise ValueError("the additive model needs at least one observation")
    if not np.all(np.isfinite(y)):
        raise ValueError("the model target must be finite")
    if not np.all(np.isfinite(np.asarray(hours, dtype=float))):
        raise ValueError("posting hours must be finite")
    voc = vocabulary or Vocabulary(
        presets=tuple(sorted({str(r["preset"]) for r in recipes})),
        content_types=tuple(sorted({c for c in content_types if c is not None})),
    )
    x = design_matrix(voc, recipes, content_types, hours)
    p = x.shape[1]
    prior_var = np.full(p, prior_sd**2)
    prior_var[0] = intercept_sd**2
    prior_var[-4:] = hour_prior_sd**2
    xtx = x.T @ x
    xty = x.T @ y
    sigma2 = float(np.var(y)) if n > 1 and np.var(y) > 0 else 1.0
    for _ in range(3):  # plug-in noise variance, a few fixed-point steps
        precision = xtx / sigma2 + np.diag(1.0 / prior_var)
        cov = np.linalg.inv(precision)
        mean = cov @ xty / sigma2
        resid = y - x @ mean
        dof = float(np.trace(cov @ xtx) / sigma2)  # effective number of parameters
        sigma2 = max(float(resid @ resid) / max(n - dof, 1.0), 1e-6)
    precision = xtx / sigma2 + np.diag(1.0 / prior_var)
    cov = np.linalg.inv(precision)
    cov = (cov + cov.T) / 2.0
    mean = cov @ xty / sigma2
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(p))
    return AdditivePosterior(voc, mean, chol, math.sqrt(sigma2), n)


__all__ = [
    "HOURS",
    "TARGET_WEIGHTS",
    "AdditivePosterior",
    "Effects",
    "Vocabulary",
    "design_matrix",
    "fit_additive",
    "hour_basis",
    "model_target",
]
