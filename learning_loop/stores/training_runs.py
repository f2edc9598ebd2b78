"""`training_runs` (SPEC §13): one row per background training attempt (prompt optimization,
RAG training set), with status `pending_review`, `skipped` or `failed`, the reason and
everything needed to reproduce it in `details` (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from learning_loop.warehouse.backend import Transaction, Warehouse

STATUSES = ("pending_review", "skipped", "failed")
KINDS = ("prompt_optimization", "rag_training")


def _naive(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def record(tx: Transaction, *, run_id: str, kind: str, agent: str | None, status: str, reason: str | None,
           created_at: datetime, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Append one training run in the caller's transaction; returns it as a JSON-ready dict."""
    if status not in STATUSES:
        raise ValueError(f"training run status must be one of {', '.join(STATUSES)}, got {status!r}")
    row = {"run_id": run_id, "kind": kind, "agent": agent, "status": status, "reason": reason,
           "created_at": _naive(created_at), "details": json.dumps(dict(details or {}), sort_keys=True, default=str)}
    tx.insert_df("training_runs", pd.DataFrame([row]))
    return {**row, "created_at": f"{row['created_at'].isoformat()}Z", "details": dict(details or {})}


def recent(source: Transaction | Warehouse, *, kind: str | None = None, agent: str | None = None,
           limit: int = 50) -> list[dict[str, Any]]:
    """Newest first, details parsed."""
    clauses, params = [], {"limit": int(limit)}
    if kind:
        clauses.append("kind = :kind")
        params["kind"] = kind
    if agent:
        clauses.append("agent = :agent")
        params["agent"] = agent
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = source.query_df(
        f"SELECT run_id, kind, agent, status, reason, created_at, details FROM training_runs {where} "
        "ORDER BY created_at DESC, agent LIMIT :limit", params)
    out = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        row["details"] = json.loads(row["details"] or "{}")
        row["created_at"] = pd.Timestamp(row["created_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(row)
    return out


def of_run(source: Transaction | Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Every training run recorded by one Dagster run (one per agent; a retried step may add more),
    details parsed, ordered by agent."""
    frame = source.query_df(
        "SELECT run_id, kind, agent, status, reason, created_at, details FROM training_runs WHERE run_id = :r "
        "ORDER BY agent, status", {"r": run_id})
    out = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        row["details"] = json.loads(row["details"] or "{}")
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        out.append(row)
    return out
