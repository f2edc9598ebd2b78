"""Logistic regression of follow_through: features, row cleaning, calibration error,
training with an out-of-time holdout."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from learning_loop.domain.predictors.common import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_ROWS,
    SCHEMA_VERSION,
    InsufficientDataError,
    Rows,
    _column,
    _frame,
    _holdout_size,
    _median,
    _numeric,
    _published,
    _require_rows,
    _sort_by_time,
    _unscale,
    _utc_iso,
)

DEFAULT_C = 1.0
DEFAULT_CALIBRATION_BINS = 10

LOGISTIC_TARGET = "follow_through"
LOGISTIC_FEATURES: tuple[str, ...] = ("novelty_score", "expertise_level", "viral_indicator")


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


__all__ = [
    "DEFAULT_C",
    "DEFAULT_CALIBRATION_BINS",
    "LOGISTIC_FEATURES",
    "LOGISTIC_TARGET",
    "LogisticResult",
    "clean_logistic_rows",
    "expected_calibration_error",
    "logistic_raw_features",
    "train_logistic",
]
