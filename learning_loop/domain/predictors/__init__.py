"""Predictors: ridge regression of engagement_rate, logistic regression of follow_through.

Pure functions over pandas DataFrames (scikit-learn; no Dagster, no database).
Issue 4, seed 004. Results are plain dataclasses that predict by themselves and
round-trip through JSON-able dicts (``to_dict`` / ``from_dict``), so they can be
stored as versioned rows.

Ridge (engagement_rate)
-----------------------
Features (:class:`RidgeFeatureSpec`):

- ``quality_score``;
- ``hour_sin``, ``hour_cos`` = sin / cos of 2π·h/24, h the UTC posting hour
  (column ``hour``, else ``posting_hour``, else the hour of ``published_at``);
- one-hot ``content_type=<t>`` (type normalised as for bandit arms);
- one-hot recipe fields ``preset=<v>``, ``hook_type=<v>``, ``scene_count=<n>``
  (a category), ``narration_wpm_bucket=<v>``, ``caption_density_bucket=<v>``,
  ``ending_type=<v>``. The buckets are derived from ``narration_wpm`` /
  ``caption_density`` when only the raw number is given.

One-hots are full (no reference level dropped; the ridge penalty makes this
well-posed), so a manual video without a recipe has all recipe one-hots zero.

Bad-values policy (training):

- rows whose ``engagement_rate`` is NaN, ±inf or non-numeric are dropped;
- rows whose ``published_at`` is null / unparseable are dropped (they cannot be
  placed in time for the out-of-time split);
- missing or non-finite ``quality_score`` → the training median (stored in the
  model; 0.5 when no training row has one);
- missing / empty ``content_type`` → the category ``unknown``;
- missing recipe field → all-zero one-hots for that field.

At prediction time the same rules apply with the stored median and categories;
a category not seen in training gives all-zero one-hots for its field, and a
row without any hour gives ``hour_sin = hour_cos = 0``.

Logistic (follow_through)
-------------------------
Features ``novelty_score``, ``expertise_level`` and ``viral_indicator`` =
``viral_score / 100``. Missing / non-finite features → the training median of
that feature (0.5 when none). Rows whose ``follow_through`` is unknown (null or
not a boolean / 0 / 1) or whose ``published_at`` is null are dropped.

Evaluation (both)
-----------------
Rows are sorted by ``published_at`` (ties keep input order); the newest
``holdout_fraction`` (rounded up, at least one row) is held out. Hyper-parameters
are chosen on the older part only (ridge: alpha by ``RidgeCV``'s efficient
leave-one-out cross-validation), held-out metrics are computed with a model fitted on the
older part, then the published model is refitted on all rows. Features are
standardised inside the fit; published coefficients are on the raw feature
scale so ``predict`` is ``intercept + X @ coef``.

Fewer than ``min_rows`` (default 20) rows after cleaning, or only one
follow_through class, raises :class:`InsufficientDataError` with a reason.

Modules: ``common`` (defaults, :class:`InsufficientDataError`, shared
helpers), ``features`` (ridge features and row cleaning), ``ridge`` (the
ridge model) and ``logistic`` (features, cleaning and the logistic model).
"""

from __future__ import annotations

from learning_loop.domain.predictors.common import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_ROWS,
    FALLBACK_MEDIAN,
    SCHEMA_VERSION,
    InsufficientDataError,
    Rows,
)
from learning_loop.domain.predictors.logistic import (
    DEFAULT_C,
    DEFAULT_CALIBRATION_BINS,
    LOGISTIC_FEATURES,
    LOGISTIC_TARGET,
    LogisticResult,
    clean_logistic_rows,
    expected_calibration_error,
    logistic_raw_features,
    train_logistic,
)
from learning_loop.domain.predictors.features import (
    RIDGE_CATEGORICAL,
    RIDGE_NUMERIC,
    RIDGE_TARGET,
    RidgeFeatureSpec,
    clean_ridge_rows,
    ridge_features,
)
from learning_loop.domain.predictors.ridge import DEFAULT_ALPHAS, DEFAULT_CV, RidgeResult, train_ridge

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_C",
    "DEFAULT_CALIBRATION_BINS",
    "DEFAULT_CV",
    "DEFAULT_HOLDOUT_FRACTION",
    "DEFAULT_MIN_ROWS",
    "FALLBACK_MEDIAN",
    "LOGISTIC_FEATURES",
    "LOGISTIC_TARGET",
    "RIDGE_CATEGORICAL",
    "RIDGE_NUMERIC",
    "RIDGE_TARGET",
    "SCHEMA_VERSION",
    "InsufficientDataError",
    "LogisticResult",
    "RidgeFeatureSpec",
    "RidgeResult",
    "Rows",
    "clean_logistic_rows",
    "clean_ridge_rows",
    "expected_calibration_error",
    "logistic_raw_features",
    "ridge_features",
    "train_logistic",
    "train_ridge",
]
