"""Ridge features: quality_score, posting hour (sin/cos), one-hot content type and
recipe fields (see the package docstring), and the rows usable for ridge training."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from learning_loop.domain.bandits import normalize_content_type
from learning_loop.domain.predictors.common import (
    _column,
    _median,
    _numeric,
    _published,
    _sort_by_time,
)
from learning_loop.domain.recipe import RECIPE_FIELDS, caption_density_bucket, narration_wpm_bucket

RIDGE_TARGET = "engagement_rate"
RIDGE_NUMERIC: tuple[str, ...] = ("quality_score", "hour_sin", "hour_cos")
RIDGE_CATEGORICAL: tuple[str, ...] = ("content_type", *RECIPE_FIELDS)


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


__all__ = [
    "RIDGE_CATEGORICAL",
    "RIDGE_NUMERIC",
    "RIDGE_TARGET",
    "RidgeFeatureSpec",
    "clean_ridge_rows",
    "ridge_features",
]
