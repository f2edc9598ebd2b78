"""The engagement-rate ridge model: alpha search, out-of-time evaluation, refit on all rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from learning_loop.domain.predictors.common import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_ROWS,
    SCHEMA_VERSION,
    Rows,
    _frame,
    _holdout_size,
    _none_if_nan,
    _require_rows,
    _unscale,
    _utc_iso,
)
from learning_loop.domain.predictors.features import RIDGE_TARGET, RidgeFeatureSpec, clean_ridge_rows

DEFAULT_ALPHAS: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
DEFAULT_CV = 5


@dataclass
class RidgeResult:
    """A trained engagement-rate ridge model, its held-out quality and what it needs to predict."""

    coefficients: dict[str, float]
    intercept: float
    alpha: float
    n_train: int
    n_holdout: int
    n_rows: int
    r2: float | None
    mae: float
    baseline_r2: float | None
    baseline_mae: float
    quality_median: float
    categories: dict[str, list[str]]
    holdout_start: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    n_dropped: dict[str, int] = field(default_factory=dict)
    model_type: str = "ridge"
    schema_version: int = SCHEMA_VERSION

    @property
    def spec(self) -> RidgeFeatureSpec:
        return RidgeFeatureSpec(quality_median=self.quality_median, categories=self.categories)

    @property
    def feature_names(self) -> list[str]:
        return self.spec.feature_names

    def predict(self, rows: Rows) -> np.ndarray:
        """Predicted engagement_rate per row (same feature rules as training)."""
        frame = _frame(rows)
        features = self.spec.transform(frame)
        coef = np.array([self.coefficients.get(name, 0.0) for name in features.columns])
        return self.intercept + features.to_numpy() @ coef

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (floats, ints, strings, lists, dicts, None)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RidgeResult:
        if data.get("model_type", "ridge") != "ridge":
            raise ValueError(f"not a ridge model: {data.get('model_type')!r}")
        return cls(**dict(data))


def _ridge_search(alphas: Sequence[float]) -> Pipeline:
    """Standardise, then RidgeCV: every alpha scored by efficient leave-one-out CV in one SVD
    (a grid search over time-series folds cost ~35 fits per training, too slow for daily backfills)."""
    return make_pipeline(StandardScaler(), RidgeCV(alphas=list(alphas)))


def _fit_ridge(rows: pd.DataFrame, alpha: float) -> tuple[Pipeline, RidgeFeatureSpec]:
    spec = RidgeFeatureSpec.fit(rows)
    pipeline = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    pipeline.fit(spec.transform(rows).to_numpy(), rows[RIDGE_TARGET].to_numpy())
    return pipeline, spec


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    if len(y_true) < 2 or np.all(y_true == y_true[0]):
        return None
    return _none_if_nan(r2_score(y_true, y_pred))


def train_ridge(
    df: pd.DataFrame,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    cv: int = DEFAULT_CV,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> RidgeResult:
    """Train the engagement-rate ridge model with an out-of-time holdout.

    Alpha is chosen by scikit-learn's ``RidgeCV`` (efficient leave-one-out
    cross-validation) on the older part; ``cv`` is kept for compatibility and
    recorded but unused; R² and MAE (and those of the training-mean baseline) are measured on
    the newest ``holdout_fraction`` of rows; the published coefficients come
    from a refit on all rows. ``r2`` / ``baseline_r2`` are None when the
    holdout target is constant. Raises :class:`InsufficientDataError`.
    """
    rows, dropped = clean_ridge_rows(df)
    _require_rows(len(rows), max(min_rows, 3), "ridge", dropped)
    n_holdout = _holdout_size(len(rows), holdout_fraction)
    train, holdout = rows.iloc[:-n_holdout], rows.iloc[-n_holdout:]

    train_spec = RidgeFeatureSpec.fit(train)
    search = _ridge_search(alphas)
    search.fit(train_spec.transform(train).to_numpy(), train[RIDGE_TARGET].to_numpy())
    alpha = float(search[-1].alpha_)

    y_true = holdout[RIDGE_TARGET].to_numpy()
    y_pred = search.predict(train_spec.transform(holdout).to_numpy())
    baseline = np.full_like(y_true, train[RIDGE_TARGET].mean())

    final, spec = _fit_ridge(rows, alpha)
    coef, intercept = _unscale(final)
    return RidgeResult(
        coefficients={name: float(c) for name, c in zip(spec.feature_names, coef)},
        intercept=intercept,
        alpha=alpha,
        n_train=len(train),
        n_holdout=n_holdout,
        n_rows=len(rows),
        r2=_r2(y_true, y_pred),
        mae=float(mean_absolute_error(y_true, y_pred)),
        baseline_r2=_r2(y_true, baseline),
        baseline_mae=float(mean_absolute_error(y_true, baseline)),
        quality_median=spec.quality_median,
        categories=spec.categories,
        holdout_start=_utc_iso(holdout["published_at"].iloc[0]),
        hyperparameters={
            "alphas": [float(a) for a in alphas],
            "alpha_selection": "RidgeCV efficient leave-one-out",
            "holdout_fraction": float(holdout_fraction),
        },
        n_dropped=dropped,
    )


__all__ = ["DEFAULT_ALPHAS", "DEFAULT_CV", "RidgeResult", "train_ridge"]
