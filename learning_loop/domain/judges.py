"""Judge weights: how far each automated judge can be trusted, from gold labels (SPEC §12).

Per agent and judge, over the trailing ``window_days`` (30) before ``as_of``:

* **Pairs**: the judge's score of an example and the example's gold label.
  Only what was known before ``as_of`` counts (the latest score per
  (agent, example_id, judge) and the latest gold label per (agent, example_id)
  with a time before ``as_of``); a pair is in the window when the *later* of
  its two times (``judged_at``, ``labeled_at``) is within ``window_days``
  before ``as_of`` — so both a golden set re-judged recently and recent gold
  labels of older judgments count. If ``gold`` has a ``source`` column, only
  rows with source ``gold`` are used (the labels table can be passed as is).
* **Agreement**: rank-based, so a judge need not be calibrated — AUC of the
  scores against the 0/1 labels (``sklearn.metrics.roc_auc_score``, ties
  count half), rescaled so chance is 0 and perfect ranking is 1:
  ``raw_agreement = max(0, 2·AUC − 1)`` (Somers' D clipped at 0; a judge
  worse than chance is as useless as a coin, weight 0).
* **Shrinkage**: ``weight = raw_agreement · n / (n + prior_n)`` with ``n``
  the number of gold pairs and ``prior_n = 20``: with 20 gold examples a
  perfect judge gets 0.5, with 180 it gets 0.9. A random judge's clipped
  Somers' D is about ``0.4 · sd`` (≈ 0.1 at n = 20) and the shrinkage keeps
  its weight near 0 (≈ 0.05 at n = 20, ≈ 0.04 at n = 100).
* No gold pairs → weight 0, reason ``no_gold``; gold of one class only (AUC
  undefined) → weight 0, reason ``one_class``; otherwise reason ``ok``.

Every (agent, judge) with a judgment before ``as_of`` gets a row.

Alerts (:func:`weight_alerts`, runbook "Check Judge Weights" and "Recommended
Alerts"): WARN for a weight < 0.3 and for a drop of more than 0.2 against the
weights of 7 days before; ERROR for a critical judge (gpt-4, claude-3-opus by
default) below 0.2. The two lists are independent checks: a critical judge at
0.1 is in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

JUDGMENT_COLUMNS = ("agent", "example_id", "judge", "score", "judged_at")
GOLD_COLUMNS = ("agent", "example_id", "label", "labeled_at")
WEIGHT_COLUMNS = ["agent", "judge", "weight", "n_gold", "n_positive", "auc", "raw_agreement", "reason"]
DEFAULT_WINDOW_DAYS = 30
#: Pseudo-count of the shrinkage toward 0: ``weight = raw · n / (n + DEFAULT_PRIOR_N)``.
DEFAULT_PRIOR_N = 20.0
DEFAULT_CRITICAL_JUDGES: tuple[str, ...] = ("gpt-4", "claude-3-opus")
WARN_BELOW = 0.3
MAX_WEEKLY_DROP = 0.2
ERROR_BELOW = 0.2


class JudgeWeightError(ValueError):
    """Bad input for judge weights. ``str(error)`` is a one-line message."""


def _utc(value: datetime) -> pd.Timestamp:
    if not isinstance(value, datetime):
        raise JudgeWeightError(f"as_of must be a datetime, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return pd.Timestamp(value).tz_convert("UTC")


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise JudgeWeightError(f"{what} lack column(s) {', '.join(missing)}")


def _latest(frame: pd.DataFrame, time_col: str, keys: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    frame = frame.copy()
    frame[time_col] = pd.to_datetime(frame[time_col], utc=True)
    frame = frame[frame[time_col] < as_of]
    return frame.sort_values(time_col, kind="stable").drop_duplicates(keys, keep="last")


def _one(pairs: pd.DataFrame, prior_n: float) -> dict[str, Any]:
    n = int(len(pairs))
    labels = pairs["label"].to_numpy(dtype=int)
    n_pos = int(labels.sum())
    row: dict[str, Any] = {"weight": 0.0, "n_gold": n, "n_positive": n_pos, "auc": None, "raw_agreement": None}
    if n == 0:
        return {**row, "reason": "no_gold"}
    if n_pos in (0, n):
        return {**row, "reason": "one_class"}
    auc = float(roc_auc_score(labels, pairs["score"].to_numpy(dtype=float)))
    raw = max(0.0, 2.0 * auc - 1.0)
    weight = float(np.clip(raw * n / (n + prior_n), 0.0, 1.0))
    return {**row, "weight": weight, "auc": auc, "raw_agreement": raw, "reason": "ok"}


def judge_weights(
    judgments: pd.DataFrame,
    gold: pd.DataFrame,
    as_of: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    prior_n: float = DEFAULT_PRIOR_N,
) -> pd.DataFrame:
    """One row per (agent, judge): ``weight`` in [0, 1] and how it was reached (see the module docstring).

    Columns: agent, judge, weight, n_gold, n_positive, auc (None when
    undefined), raw_agreement (None when undefined), reason (``ok``,
    ``no_gold``, ``one_class``); sorted by agent and judge.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise JudgeWeightError(f"window_days must be a positive integer, got {window_days!r}")
    if isinstance(prior_n, bool) or not isinstance(prior_n, (int, float)) or not prior_n >= 0:
        raise JudgeWeightError(f"prior_n must be a number >= 0, got {prior_n!r}")
    _require(judgments, JUDGMENT_COLUMNS, "judgments")
    _require(gold, GOLD_COLUMNS, "gold labels")
    as_of_ts = _utc(as_of)
    start = as_of_ts - timedelta(days=window_days)
    judged = _latest(judgments.loc[:, list(JUDGMENT_COLUMNS)], "judged_at", ["agent", "example_id", "judge"], as_of_ts)
    judged = judged.dropna(subset=["score"])
    labels = gold[gold["source"] == "gold"] if "source" in gold.columns else gold
    labeled = _latest(labels.loc[:, list(GOLD_COLUMNS)], "labeled_at", ["agent", "example_id"], as_of_ts)
    labeled = labeled.dropna(subset=["label"])
    pairs = judged.merge(labeled, on=["agent", "example_id"], how="inner")
    later = pairs[["judged_at", "labeled_at"]].max(axis=1)
    pairs = pairs[later >= start]
    rows = []
    for (agent, judge), _ in judged.groupby(["agent", "judge"], sort=True):
        mine = pairs[(pairs["agent"] == agent) & (pairs["judge"] == judge)]
        rows.append({"agent": agent, "judge": judge, **_one(mine, float(prior_n))})
    return pd.DataFrame(rows, columns=WEIGHT_COLUMNS)


def weights_mapping(weights: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{agent: {judge: weight}}`` (the ``learning-loop weights --json`` shape)."""
    result: dict[str, dict[str, float]] = {}
    for row in weights.itertuples(index=False):
        result.setdefault(str(row.agent), {})[str(row.judge)] = float(row.weight)
    return result


@dataclass(frozen=True)
class WeightAlert:
    """One alert about one judge of one agent."""

    level: Literal["WARN", "ERROR"]
    kind: Literal["low_weight", "weight_drop", "critical_low_weight"]
    agent: str
    judge: str
    weight: float
    previous_weight: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WeightAlerts:
    """WARN alerts (low weight, weekly drop) and ERROR alerts (critical judge very low)."""

    warn: list[WeightAlert] = field(default_factory=list)
    error: list[WeightAlert] = field(default_factory=list)


def weight_alerts(
    current: pd.DataFrame,
    previous_7d_ago: pd.DataFrame | None = None,
    critical_judges: Iterable[str] = DEFAULT_CRITICAL_JUDGES,
    *,
    warn_below: float = WARN_BELOW,
    max_drop: float = MAX_WEEKLY_DROP,
    error_below: float = ERROR_BELOW,
) -> WeightAlerts:
    """Alerts from today's weights and those of 7 days before (``judge_weights`` frames)."""
    critical = set(critical_judges)
    before: dict[tuple[str, str], float] = {}
    if previous_7d_ago is not None:
        for row in previous_7d_ago.itertuples(index=False):
            before[(str(row.agent), str(row.judge))] = float(row.weight)
    warn: list[WeightAlert] = []
    error: list[WeightAlert] = []
    reasons = current["reason"] if "reason" in current.columns else pd.Series(["ok"] * len(current))
    for row, reason in zip(current.itertuples(index=False), reasons):
        agent, judge, weight = str(row.agent), str(row.judge), float(row.weight)
        prev = before.get((agent, judge))
        note = "" if reason == "ok" else f" ({reason})"
        if weight < warn_below:
            warn.append(WeightAlert(
                "WARN", "low_weight", agent, judge, weight, prev,
                f"judge {judge} of agent {agent} has weight {weight:.2f} < {warn_below:g}{note}",
            ))
        if prev is not None and prev - weight > max_drop:
            warn.append(WeightAlert(
                "WARN", "weight_drop", agent, judge, weight, prev,
                f"judge {judge} of agent {agent} dropped from {prev:.2f} to {weight:.2f} in 7 days",
            ))
        if judge in critical and weight < error_below:
            error.append(WeightAlert(
                "ERROR", "critical_low_weight", agent, judge, weight, prev,
                f"critical judge {judge} of agent {agent} has weight {weight:.2f} < {error_below:g}{note}",
            ))
    return WeightAlerts(warn=warn, error=error)


__all__ = [
    "DEFAULT_CRITICAL_JUDGES",
    "DEFAULT_PRIOR_N",
    "DEFAULT_WINDOW_DAYS",
    "JudgeWeightError",
    "WEIGHT_COLUMNS",
    "WeightAlert",
    "WeightAlerts",
    "judge_weights",
    "weight_alerts",
    "weights_mapping",
]
