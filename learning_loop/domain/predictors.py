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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.metrics import log_loss, mean_absolute_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from learning_loop.domain.bandits import normalize_content_type
from learning_loop.domain.recipe import RECIPE_FIELDS, caption_density_bucket, narration_wpm_bucket

DEFAULT_MIN_ROWS = 20
DEFAULT_ALPHAS: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
DEFAULT_CV = 5
DEFAULT_HOLDOUT_FRACTION = 0.2
DEFAULT_C = 1.0
DEFAULT_CALIBRATION_BINS = 10
#: Fallback for a [0, 1] feature with no observed value at all.
FALLBACK_MEDIAN = 0.5

RIDGE_TARGET = "engagement_rate"
LOGISTIC_TARGET = "follow_through"
RIDGE_NUMERIC: tuple[str, ...] = ("quality_score", "hour_sin", "hour_cos")
RIDGE_CATEGORICAL: tuple[str, ...] = ("content_type", *RECIPE_FIELDS)
LOGISTIC_FEATURES: tuple[str, ...] = ("novelty_score", "expertise_level", "viral_indicator")
SCHEMA_VERSION = 1


class InsufficientDataError(ValueError):
    """Too little usable data to train; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Rows = pd.DataFrame | pd.Series | Sequence[Mapping[str, Any]] | Mapping[str, Any]


# --------------------------------------------------------------------------- helpers


def _frame(rows: Rows) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a list of row dicts, one row dict or one row Series."""
    if isinstance(rows, pd.DataFrame):
        return rows.reset_index(drop=True)
    if isinstance(rows, pd.Series):
        return rows.to_frame().T.reset_index(drop=True)
    if isinstance(rows, Mapping):
        return pd.DataFrame([dict(rows)])
    return pd.DataFrame(list(rows))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column, or an all-null object column when it is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype="object")


def _numeric(frame: pd.DataFrame, name: str) -> pd.Series:
    """Float column with NaN for missing, non-numeric and ±inf values."""
    values = pd.to_numeric(_column(frame, name), errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def _median(values: pd.Series) -> float:
    finite = values.dropna()
    return float(finite.median()) if len(finite) else FALLBACK_MEDIAN


def _published(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(_column(frame, "published_at"), utc=True, errors="coerce")


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _category(field_name: str, value: object) -> str | None:
    """Canonical category label of one categorical value; None when missing."""
    if field_name == "content_type":
        return normalize_content_type(value)
    if _is_missing(value):
        return None
    if field_name == "scene_count":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value).strip()
        return str(int(number)) if number.is_integer() else str(number)
    return str(value).strip()


def _bucket_column(frame: pd.DataFrame, bucket: str, raw: str, rule) -> pd.Series:
    """The bucket column, filled from the raw number where the bucket is missing."""
    labels = _column(frame, bucket).astype("object")
    numbers = _numeric(frame, raw)
    fill = labels.map(_is_missing) & numbers.notna()
    labels = labels.copy()
    labels.loc[fill] = [rule(v) for v in numbers.loc[fill]]
    return labels


def _categorical_values(frame: pd.DataFrame, field_name: str) -> pd.Series:
    if field_name == "narration_wpm_bucket":
        raw = _bucket_column(frame, field_name, "narration_wpm", narration_wpm_bucket)
    elif field_name == "caption_density_bucket":
        raw = _bucket_column(frame, field_name, "caption_density", caption_density_bucket)
    else:
        raw = _column(frame, field_name)
    return pd.Series([_category(field_name, v) for v in raw], index=frame.index, dtype="object")


def _hours(frame: pd.DataFrame) -> pd.Series:
    """UTC hour per row: ``hour``, else ``posting_hour``, else from ``published_at``; NaN if none."""
    hours = pd.Series(np.nan, index=frame.index, dtype="float64")
    for name in ("hour", "posting_hour"):
        if name in frame.columns:
            hours = hours.fillna(_numeric(frame, name))
    return hours.fillna(_published(frame).dt.hour.astype("float64"))


def _holdout_size(n_rows: int, fraction: float) -> int:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout_fraction must be within (0, 1), got {fraction}")
    return min(n_rows - 1, max(1, math.ceil(n_rows * fraction)))


def _require_rows(n_rows: int, min_rows: int, what: str, dropped: Mapping[str, int]) -> None:
    if n_rows >= min_rows:
        return
    details = ", ".join(f"{count} {why}" for why, count in dropped.items() if count)
    reason = f"{what}: only {n_rows} usable rows after cleaning, need at least {min_rows}"
    raise InsufficientDataError(reason + (f" (dropped: {details})" if details else ""))


def _unscale(pipeline: Pipeline) -> tuple[np.ndarray, float]:
    """Raw-scale coefficients and intercept of a StandardScaler → linear model pipeline."""
    scaler, model = pipeline[0], pipeline[-1]
    coef_std = np.ravel(model.coef_)
    coef = coef_std / scaler.scale_
    intercept = float(np.ravel(model.intercept_)[0] - np.dot(coef, scaler.mean_))
    return coef, intercept


def _none_if_nan(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _utc_iso(value: pd.Timestamp) -> str:
    return value.to_pydatetime().astimezone(timezone.utc).isoformat()


def _sort_by_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("published_at", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- ridge features


@dataclass(frozen=True)
class RidgeFeatureSpec:
    """What is needed to build ridge features identically at train and predict time."""

    quality_median: float
    categories: dict[str, list[str]]

    @classmethod
    def fit(cls, df: pd.DataFrame) -> RidgeFeatureSpec:
        """Median quality_score and the sorted categories seen in ``df``."""
        categories = {
            name: sorted(set(_categorical_values(df, name).dropna())) for name in RIDGE_CATEGORICAL
        }
        return cls(quality_median=_median(_numeric(df, "quality_score")), categories=categories)

    @property
    def feature_names(self) -> list[str]:
        names = list(RIDGE_NUMERIC)
        for name in RIDGE_CATEGORICAL:
            names += [f"{name}={value}" for value in self.categories.get(name, [])]
        return names

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Feature matrix (float) with columns :attr:`feature_names`, index of ``df``."""
        radians = 2.0 * np.pi * _hours(df) / 24.0
        parts = [
            pd.DataFrame(
                {
                    "quality_score": _numeric(df, "quality_score").fillna(self.quality_median),
                    "hour_sin": np.sin(radians).fillna(0.0),
                    "hour_cos": np.cos(radians).fillna(0.0),
                },
                index=df.index,
            )
        ]
        for name in RIDGE_CATEGORICAL:
            known = self.categories.get(name, [])
            labels = _categorical_values(df, name)
            values = pd.Categorical(labels.where(labels.isin(known)), categories=known)  # unseen → all zero
            dummies = pd.get_dummies(values, prefix=name, prefix_sep="=", dtype="float64")
            parts.append(dummies.set_axis(df.index, axis=0))
        return pd.concat(parts, axis=1).reindex(columns=self.feature_names, fill_value=0.0).astype("float64")


def ridge_features(df: pd.DataFrame, spec: RidgeFeatureSpec | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Ridge feature matrix and its column names.

    With ``spec`` None the median and categories are learnt from ``df`` itself
    (training); pass a stored spec to build features for new rows.
    """
    spec = spec or RidgeFeatureSpec.fit(df)
    return spec.transform(df), spec.feature_names


def clean_ridge_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows usable for ridge training, sorted by published_at, and drop counts by reason."""
    target = _numeric(df, RIDGE_TARGET)
    published = _published(df)
    bad_target = target.isna()
    no_time = ~bad_target & published.isna()
    rows = df.loc[~bad_target & ~no_time].copy()
    rows[RIDGE_TARGET] = target.loc[rows.index]
    rows["published_at"] = published.loc[rows.index]
    dropped = {
        "with missing or non-finite engagement_rate": int(bad_target.sum()),
        "without published_at": int(no_time.sum()),
    }
    return _sort_by_time(rows), dropped


# --------------------------------------------------------------------------- ridge


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


# --------------------------------------------------------------------------- logistic


def _follow_through(value: object) -> float:
    """1.0 / 0.0 for a boolean-like value, NaN when unknown."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return float(value.strip().lower() == "true")
    return math.nan


def logistic_raw_features(df: pd.DataFrame) -> pd.DataFrame:
    """novelty_score, expertise_level, viral_indicator (= viral_score / 100); NaN where missing."""
    return pd.DataFrame(
        {
            "novelty_score": _numeric(df, "novelty_score"),
            "expertise_level": _numeric(df, "expertise_level"),
            "viral_indicator": _numeric(df, "viral_score") / 100.0,
        },
        index=df.index,
    )


def clean_logistic_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows usable for logistic training, sorted by published_at, and drop counts by reason."""
    target = pd.Series([_follow_through(v) for v in _column(df, LOGISTIC_TARGET)], index=df.index, dtype="float64")
    published = _published(df)
    unknown = target.isna()
    no_time = ~unknown & published.isna()
    rows = df.loc[~unknown & ~no_time].copy()
    rows[LOGISTIC_TARGET] = target.loc[rows.index].astype("int64")
    rows["published_at"] = published.loc[rows.index]
    dropped = {"with unknown follow_through": int(unknown.sum()), "without published_at": int(no_time.sum())}
    return _sort_by_time(rows), dropped


def expected_calibration_error(
    y_true: Sequence[float], proba: Sequence[float], n_bins: int = DEFAULT_CALIBRATION_BINS
) -> float:
    """ECE with ``n_bins`` equal-width bins on [0, 1]: Σ_b (n_b / n) · |mean(y_b) − mean(p_b)|."""
    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / max(counts.sum(), 1))


@dataclass
class LogisticResult:
    """A trained follow-through logistic model, its held-out quality and what it needs to predict."""

    coefficients: dict[str, float]
    intercept: float
    C: float
    n_train: int
    n_holdout: int
    n_rows: int
    log_loss: float
    baseline_log_loss: float
    roc_auc: float | None
    calibration_error: float
    base_rate: float
    medians: dict[str, float]
    holdout_start: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    n_dropped: dict[str, int] = field(default_factory=dict)
    model_type: str = "logistic"
    schema_version: int = SCHEMA_VERSION

    @property
    def feature_names(self) -> list[str]:
        return list(LOGISTIC_FEATURES)

    def features(self, rows: Rows) -> pd.DataFrame:
        """Feature matrix with missing values replaced by the stored medians."""
        return logistic_raw_features(_frame(rows)).fillna(self.medians)

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """P(follow_through) per row."""
        coef = np.array([self.coefficients[name] for name in LOGISTIC_FEATURES])
        logits = self.intercept + self.features(rows).to_numpy() @ coef
        return 1.0 / (1.0 + np.exp(-logits))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (floats, ints, strings, lists, dicts, None)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticResult:
        if data.get("model_type", "logistic") != "logistic":
            raise ValueError(f"not a logistic model: {data.get('model_type')!r}")
        return cls(**dict(data))


def _fit_logistic(rows: pd.DataFrame, C: float) -> tuple[Pipeline, dict[str, float]]:
    raw = logistic_raw_features(rows)
    medians = {name: _median(raw[name]) for name in LOGISTIC_FEATURES}
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C))
    pipeline.fit(raw.fillna(medians).to_numpy(), rows[LOGISTIC_TARGET].to_numpy())
    return pipeline, medians


def _require_two_classes(target: pd.Series, what: str) -> None:
    if target.nunique() < 2:
        only = bool(target.iloc[0]) if len(target) else None
        raise InsufficientDataError(f"logistic: {what} has only one follow_through class ({only}); cannot fit")


def train_logistic(
    df: pd.DataFrame,
    C: float = DEFAULT_C,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    min_rows: int = DEFAULT_MIN_ROWS,
    n_bins: int = DEFAULT_CALIBRATION_BINS,
) -> LogisticResult:
    """Train the follow-through logistic model with an out-of-time holdout.

    Held-out log-loss (and the training base rate's, as a baseline), ROC AUC
    (None when the holdout has one class) and expected calibration error
    (``n_bins`` equal-width bins) come from a model fitted on the older part;
    the published coefficients from a refit on all rows. Raises
    :class:`InsufficientDataError` for too few rows or a single class.
    """
    rows, dropped = clean_logistic_rows(df)
    _require_rows(len(rows), max(min_rows, 3), "logistic", dropped)
    n_holdout = _holdout_size(len(rows), holdout_fraction)
    train, holdout = rows.iloc[:-n_holdout], rows.iloc[-n_holdout:]
    _require_two_classes(train[LOGISTIC_TARGET], "the training part (older rows)")

    model, train_medians = _fit_logistic(train, C)
    y_true = holdout[LOGISTIC_TARGET].to_numpy()
    proba = model.predict_proba(logistic_raw_features(holdout).fillna(train_medians).to_numpy())[:, 1]
    base_rate = float(train[LOGISTIC_TARGET].mean())

    final, medians = _fit_logistic(rows, C)
    coef, intercept = _unscale(final)
    return LogisticResult(
        coefficients={name: float(c) for name, c in zip(LOGISTIC_FEATURES, coef)},
        intercept=intercept,
        C=float(C),
        n_train=len(train),
        n_holdout=n_holdout,
        n_rows=len(rows),
        log_loss=float(log_loss(y_true, proba, labels=[0, 1])),
        baseline_log_loss=float(log_loss(y_true, np.full(len(y_true), base_rate), labels=[0, 1])),
        roc_auc=float(roc_auc_score(y_true, proba)) if len(set(y_true)) == 2 else None,
        calibration_error=expected_calibration_error(y_true, proba, n_bins),
        base_rate=float(rows[LOGISTIC_TARGET].mean()),
        medians=medians,
        holdout_start=_utc_iso(holdout["published_at"].iloc[0]),
        hyperparameters={"C": float(C), "holdout_fraction": float(holdout_fraction), "calibration_bins": int(n_bins)},
        n_dropped=dropped,
    )
