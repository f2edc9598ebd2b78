"""Shared by the ridge and logistic predictors: defaults, the insufficient-data error,
row input handling, cleaning helpers, the out-of-time holdout and un-scaling.

The underscore helpers are package-internal (used by ``ridge`` and ``logistic``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

DEFAULT_MIN_ROWS = 20
DEFAULT_HOLDOUT_FRACTION = 0.2
#: Fallback for a [0, 1] feature with no observed value at all.
FALLBACK_MEDIAN = 0.5
SCHEMA_VERSION = 1


class InsufficientDataError(ValueError):
    """Too little usable data to train; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Rows = pd.DataFrame | pd.Series | Sequence[Mapping[str, Any]] | Mapping[str, Any]


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


__all__ = [
    "DEFAULT_HOLDOUT_FRACTION",
    "DEFAULT_MIN_ROWS",
    "FALLBACK_MEDIAN",
    "SCHEMA_VERSION",
    "InsufficientDataError",
    "Rows",
]
