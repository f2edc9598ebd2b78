"""The guard's record (`canary_checks` table, SPEC §11): one row per canary per guard look.

`record` writes the row inside the caller's transaction (the guard writes it in
the same transaction as a rollback and the audit rows); `looks` reads one
canary's past recommendations (what auto-promotion needs) and `latest` the
newest look per agent (what the checks on `canary_checks` read).
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from learning_loop.domain.canaries import CanaryPerformance, Deployment
from learning_loop.warehouse.backend import Transaction, Warehouse

TABLE = "canary_checks"


def row(perf: CanaryPerformance, *, checked_at: datetime, run_id: str | None) -> dict:
    """The table row of one look (deltas, intervals, n, guard action and reason, recommendation)."""
    q, lat = perf.comparison.quality, perf.comparison.latency
    return {
        "checked_at": checked_at,
        "agent": perf.agent,
        "canary_bundle_id": perf.canary_bundle_id,
        "stable_bundle_id": perf.stable_bundle_id,
        "canary_percent": perf.canary_percent,
        "action": perf.decision.action,
        "reason": perf.decision.reason,
        "recommendation": perf.recommendation,
        "quality_delta": q.value,
        "latency_delta": lat.value,
        "quality_ci_low": q.low,
        "quality_ci_high": q.high,
        "latency_ci_low": lat.low,
        "latency_ci_high": lat.high,
        "n_canary": perf.n_canary,
        "n_stable": perf.n_stable,
        "hours_running": perf.hours_running,
        "details": json.dumps({**perf.decision.details, "stalled": perf.stalled}, sort_keys=True, default=str),
        "run_id": run_id,
    }


def record(tx: Transaction, perf: CanaryPerformance, *, checked_at: datetime, run_id: str | None) -> None:
    """Append the look's row inside the caller's transaction."""
    tx.insert_df(TABLE, pd.DataFrame([row(perf, checked_at=checked_at, run_id=run_id)]))


def looks(source: Transaction | Warehouse, dep: Deployment, before: datetime | None = None) -> list[tuple[datetime, str]]:
    """(checked_at, recommendation) of the current canary at its current percent (since ``percent_since``)."""
    if not dep.has_canary:
        return []
    params = {"a": dep.agent, "b": dep.canary_bundle_id, "p": dep.canary_percent, "since": dep.percent_since}
    where = ""
    if before is not None:
        where = " AND checked_at <= :before"
        params["before"] = before
    frame = source.query_df(
        "SELECT checked_at, recommendation FROM canary_checks WHERE agent = :a AND canary_bundle_id = :b "
        f"AND canary_percent = :p AND checked_at >= :since{where} ORDER BY checked_at",
        params,
    )
    return [(pd.Timestamp(t).to_pydatetime(), str(r)) for t, r in zip(frame["checked_at"], frame["recommendation"])]


def latest(source: Transaction | Warehouse) -> pd.DataFrame:
    """The newest look of every agent's canary that is still active (the canaries table says which)."""
    frame = source.query_df(
        "SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c.agent ORDER BY c.checked_at DESC, "
        "c.run_id DESC) AS look FROM canary_checks c JOIN canaries d ON d.agent = c.agent "
        "AND d.canary_bundle_id = c.canary_bundle_id) ranked WHERE look = 1 ORDER BY agent"
    )
    return frame.drop(columns=["look"])
