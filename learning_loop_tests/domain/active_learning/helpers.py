"""Shared builders for the active-learning tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows of raw text as read from a landing file (None for an empty cell) plus row_number."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    frame = pd.DataFrame({c: pd.Series([row.get(c) for row in rows], dtype=object) for c in columns})
    frame["row_number"] = range(1, len(rows) + 1)
    return frame


def label_rows(rows: list[tuple]) -> pd.DataFrame:
    """Typed label rows from (agent, example_id, source, label, labeled_at) tuples."""
    frame = pd.DataFrame(rows, columns=["agent", "example_id", "source", "label", "labeled_at"])
    frame["labeled_at"] = pd.to_datetime(frame["labeled_at"].astype(str), format="ISO8601")
    return frame


def synthetic_labels(
    n: int,
    *,
    seed: int,
    agent: str = "inbox_triage",
    weights: tuple[float, float, float] = (2.0, -1.5, 0.0),
    start: str = "2024-01-01",
) -> pd.DataFrame:
    """n gold labels, one per hour from `start`, drawn from a known logistic truth over three
    features (f_risk_score on a 0-100-ish scale, f_spf_dkim, f_noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logit = x @ np.asarray(weights)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "agent": agent,
            "example_id": [f"{agent}-{seed}-{i:04d}" for i in range(n)],
            "source": "gold",
            "label": label,
            "labeled_at": pd.Timestamp(start) + pd.to_timedelta(np.arange(n), unit="h"),
            "confidence": 90.0,
            "f_risk_score": x[:, 0] * 15 + 60,
            "f_spf_dkim": x[:, 1],
            "f_noise": x[:, 2],
        }
    )
