"""Reading the learnt models back for planning (issue 4): bandit arms and predictor versions.

Plain Python over the warehouse (no Dagster). Every read is point-in-time:
a daily partition ``D`` is usable at ``as_of`` when its ``T = D + 1 day,
00:00 UTC`` is ``<= as_of`` (SPEC §4), i.e. ``D <= as_of's UTC date - 1 day``.

Selection policy (:func:`assign_content_and_hours`)
---------------------------------------------------
- **content type**: batch-aware Thompson sampling over the project's content
  arms (:func:`learning_loop.domain.bandits.thompson_select`, one
  pseudo-failure per pick), with ``numpy.random.default_rng(seed)``. The arm
  ``content_unknown`` (videos without a content type) is not a type one can
  ask for, so it is never assigned; with no other content arm the content
  type is ``None``.
- **posting hour**: batch-aware UCB1 over the 24 timing arms
  (:func:`learning_loop.domain.bandits.ucb1_select`): untried hours first,
  lowest first, then the highest UCB1 score, a pseudo-pull after each pick.
  Deterministic. No timing arms → ``None``.

Prediction policy (:func:`predict_jobs`)
----------------------------------------
Each job gets ``predicted_engagement_rate`` from the latest trained ridge
version (clipped at 0: an engagement rate cannot be negative) and
``predicted_follow_through`` (a probability) from the latest trained logistic
version. Missing features use the model's own imputation (training medians;
an unseen or missing category gives all-zero one-hots; a missing posting hour
gives hour_sin = hour_cos = 0). A missing model gives ``None`` and a
``prediction_reason``.

Gate (:class:`GateConfig`): a job passes when every *available* prediction
meets its threshold (``>=``); a threshold of ``None`` disables that check.
Defaults: ``min_engagement_rate = 0.02``, ``min_follow_through = 0.0`` (the
follow-through check is off by default: any probability passes). The
environment variables ``LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE`` and
``LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH`` override them via
:meth:`GateConfig.from_settings`. ``gate_passed`` is ``None`` when the job has no
prediction at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Union

import numpy as np
import pandas as pd

from learning_loop.domain.bandits import (
    CONTENT_PREFIX,
    UNKNOWN_CONTENT_TYPE,
    arm_content_type,
    thompson_select,
    ucb1_select,
)
from learning_loop.domain.predictors import LogisticResult, RidgeResult
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.settings import Settings
from learning_loop.warehouse.backend import Transaction, Warehouse

RIDGE_MODEL = "ridge_engagement_rate"
LOGISTIC_MODEL = "logistic_follow_through"
MODELS: tuple[str, ...] = (RIDGE_MODEL, LOGISTIC_MODEL)

NO_PREDICTOR = "no trained predictor yet"
NO_ENGAGEMENT_PREDICTOR = "no trained engagement-rate predictor yet"
NO_FOLLOW_THROUGH_PREDICTOR = "no trained follow-through predictor yet"
NON_FINITE_ENGAGEMENT = "engagement-rate prediction is not a finite number"
NON_FINITE_FOLLOW_THROUGH = "follow-through prediction is not a finite number"

Source = Union[Warehouse, Transaction]
Predictor = Union[RidgeResult, LogisticResult]

#: Columns of :func:`latest_arms`' result.
ARM_COLUMNS: tuple[str, ...] = (
    "partition_date", "project_id", "arm_type", "arm", "hour", "pulls", "successes", "failures",
    "success_rate", "alpha", "beta", "mean", "posterior_sd", "ucb1", "window_days", "success_threshold",
)


# --------------------------------------------------------------------------- as-of


def latest_usable_partition(as_of: datetime) -> date:
    """The newest partition D with T = D + 1 day <= ``as_of`` (naive = UTC)."""
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(timezone.utc).replace(tzinfo=None)
    return as_of.date() - timedelta(days=1)


def _query(source: Source, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    return source.query_df(sql, params)


# --------------------------------------------------------------------------- bandit arms


def latest_arms(source: Source, project_id: str, as_of: datetime) -> pd.DataFrame:
    """Arms of the latest ``bandit_arms`` partition whose T <= ``as_of`` for one project.

    ``source`` is a Warehouse or an open Transaction. Content arms first, then
    timing arms by hour. Numbers are floats/ints; ``ucb1`` is +inf for an
    untried timing arm (stored as NULL) and NaN for content arms. Empty
    (with the columns :data:`ARM_COLUMNS`) when there is no such partition.
    """
    params = {"p": project_id, "d": latest_usable_partition(as_of)}
    frame = _query(
        source,
        "SELECT * FROM bandit_arms WHERE project_id = :p AND partition_date = ("
        "SELECT max(partition_date) FROM bandit_arms WHERE project_id = :p AND partition_date <= :d) "
        "ORDER BY arm_type, hour, arm",
        params,
    )
    if frame.empty:
        return pd.DataFrame({name: [] for name in ARM_COLUMNS})
    frame = frame.loc[:, list(ARM_COLUMNS)].reset_index(drop=True)
    for name in ("pulls", "successes", "failures", "window_days"):
        frame[name] = pd.to_numeric(frame[name]).astype("int64")
    frame["hour"] = pd.to_numeric(frame["hour"]).astype("Int64")
    for name in ("success_rate", "alpha", "beta", "mean", "posterior_sd", "ucb1", "success_threshold"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    timing = frame["arm_type"] == "timing"
    frame.loc[timing & frame["ucb1"].isna(), "ucb1"] = np.inf  # untried hour: play first
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame


def assign_content_and_hours(arms: pd.DataFrame, k: int, seed: int | None) -> list[tuple[str | None, int | None]]:
    """``k`` (content_type, posting_hour) pairs for one batch of one project (see the module doc).

    ``arms``: rows of :func:`latest_arms` (or :func:`domain.bandits.arm_table`)
    for one project. The content type is returned without the ``content_``
    prefix. Reproducible: the same arms, ``k`` and ``seed`` give the same list.
    No usable content arms → content ``None``; no timing arms → hour ``None``.
    """
    if k <= 0:
        return []
    content_types: list[str | None] = [None] * k
    hours: list[int | None] = [None] * k
    if arms is not None and not arms.empty and "arm_type" in arms.columns:
        content = arms[
            (arms["arm_type"] == "content") & (arms["arm"] != CONTENT_PREFIX + UNKNOWN_CONTENT_TYPE)
        ]
        if not content.empty:
            picks = thompson_select(content, k, np.random.default_rng(seed))
            content_types = [arm_content_type(arm) for arm in picks]
        timing = arms[arms["arm_type"] == "timing"]
        if not timing.empty:
            hours = [int(h) for h in ucb1_select(timing, k)]
    return list(zip(content_types, hours))


# --------------------------------------------------------------------------- predictors


def _load_model(model: str, model_json: str) -> Predictor:
    data = json.loads(model_json)
    return RidgeResult.from_dict(data) if model == RIDGE_MODEL else LogisticResult.from_dict(data)


def latest_predictor_versions(source: Source, project_id: str, as_of: datetime) -> dict[str, dict[str, Any] | None]:
    """Per model: the latest *trained* version row (version_id, partition_date, model_json, …) with T <= as_of."""
    params = {"p": project_id, "d": latest_usable_partition(as_of)}
    frame = _query(
        source,
        "SELECT partition_date, model, version_id, trained_at, n_train, model_json FROM predictor_coefficients "
        "WHERE project_id = :p AND status = 'trained' AND partition_date <= :d AND model_json IS NOT NULL "
        "ORDER BY model, partition_date DESC",
        params,
    )
    out: dict[str, dict[str, Any] | None] = {model: None for model in MODELS}
    for model in MODELS:
        rows = frame[frame["model"] == model]
        if len(rows):
            out[model] = rows.iloc[0].to_dict()
    return out


def latest_predictors(source: Source, project_id: str, as_of: datetime) -> dict[str, Predictor | None]:
    """``{"ridge_engagement_rate": RidgeResult | None, "logistic_follow_through": LogisticResult | None}``:
    the latest trained version of each model whose partition T <= ``as_of``."""
    versions = latest_predictor_versions(source, project_id, as_of)
    return {model: (_load_model(model, row["model_json"]) if row else None) for model, row in versions.items()}


@dataclass(frozen=True)
class GateConfig:
    """Thresholds a job's predictions must meet (``>=``) to pass; ``None`` disables a check."""

    min_engagement_rate: float | None = 0.02
    min_follow_through: float | None = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GateConfig:
        """``LEARNING_LOOP_GATE_MIN_ENGAGEMENT_RATE`` / ``LEARNING_LOOP_GATE_MIN_FOLLOW_THROUGH``
        (a number, or ``off``), through the settings."""
        return cls(min_engagement_rate=settings.gate_min_engagement_rate, min_follow_through=settings.gate_min_follow_through)


_JOB_FEATURES = ("content_type", "posting_hour", "quality_score", "novelty_score", "expertise_level", "viral_score",
                 "narration_wpm", "caption_density")


def _feature_row(job: Mapping[str, Any]) -> dict[str, Any]:
    """The model input of one job: recipe fields (flat or under ``recipe``) and the feature values."""
    recipe = job.get("recipe") if isinstance(job.get("recipe"), Mapping) else {}
    row: dict[str, Any] = {name: job.get(name, recipe.get(name)) for name in RECIPE_FIELDS}
    for name in _JOB_FEATURES:
        row[name] = job.get(name)
    return {k: (np.nan if v is None else v) for k, v in row.items()}


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def predict_jobs(
    predictors: Mapping[str, Predictor | None], jobs: Sequence[Mapping[str, Any]], gate: GateConfig | None = None
) -> list[dict[str, Any]]:
    """Predictions for planned jobs, one dict per job in order, with exactly the keys
    ``predicted_engagement_rate``, ``predicted_follow_through`` (float or None),
    ``prediction_reason`` (None when both models predicted) and ``gate_passed``
    (bool, or None when there is no prediction). See the module doc for the policy.
    """
    gate = gate or GateConfig()
    ridge = predictors.get(RIDGE_MODEL)
    logistic = predictors.get(LOGISTIC_MODEL)
    if not jobs:
        return []
    frame = pd.DataFrame([_feature_row(job) for job in jobs])
    engagement = [None] * len(jobs) if ridge is None else [_finite(v) for v in ridge.predict(frame)]
    follow = [None] * len(jobs) if logistic is None else [_finite(v) for v in logistic.predict_proba(frame)]
    out = []
    for er, ft in zip(engagement, follow):
        reasons = []
        if er is None:
            reasons.append(NO_ENGAGEMENT_PREDICTOR if ridge is None else NON_FINITE_ENGAGEMENT)
        else:
            er = max(er, 0.0)
        if ft is None:
            reasons.append(NO_FOLLOW_THROUGH_PREDICTOR if logistic is None else NON_FINITE_FOLLOW_THROUGH)
        if ridge is None and logistic is None:
            reasons = [NO_PREDICTOR]
        if er is None and ft is None:
            passed = None
        else:
            passed = True
            if er is not None and gate.min_engagement_rate is not None:
                passed = passed and er >= gate.min_engagement_rate
            if ft is not None and gate.min_follow_through is not None:
                passed = passed and ft >= gate.min_follow_through
        out.append({
            "predicted_engagement_rate": er,
            "predicted_follow_through": ft,
            "prediction_reason": "; ".join(reasons) or None,
            "gate_passed": passed,
        })
    return out
