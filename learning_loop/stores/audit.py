"""The append-only audit log (SPEC §12) and who really ran a change.

`append` is the only writer: it inserts one row inside the caller's transaction,
so a state change and its audit row commit together or not at all. Nothing in
the platform updates or deletes an `audit_log` row.

`ran_as` is who really ran the change, whatever name was typed after
`--actor`/`--approver`: the operating-system user and host for the CLI (passed
to the run as the tag `learning_loop/ran_as`), the schedule or sensor for an
automatic run, and the web UI otherwise.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from learning_loop.warehouse.backend import Transaction, Warehouse

RAN_AS_TAG = "learning_loop/ran_as"


def os_identity() -> str:
    """`user@host` of this process (what the CLI records as `ran_as`)."""
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name on this system
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def ran_as_of_run(tags: Mapping[str, str]) -> str:
    """Who launched a Dagster run, from its tags: the CLI's identity, a schedule, a sensor, a backfill, or the UI."""
    if tags.get(RAN_AS_TAG):
        return tags[RAN_AS_TAG]
    if tags.get("dagster/schedule_name"):
        return f"schedule:{tags['dagster/schedule_name']}"
    if tags.get("dagster/sensor_name"):
        return f"sensor:{tags['dagster/sensor_name']}"
    if tags.get("user"):
        return f"ui:{tags['user']}"
    return "dagster-ui"


def _utc_naive(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def append(
    tx: Transaction,
    *,
    at: datetime,
    action: str,
    actor: str,
    ran_as: str,
    agent: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Append one audit row inside the caller's transaction."""
    row = {
        "at": _utc_naive(at),
        "agent": agent,
        "action": action,
        "actor": actor,
        "ran_as": ran_as,
        "reason": reason,
        "details": json.dumps(dict(details or {}), sort_keys=True, default=str),
        "run_id": run_id,
    }
    tx.insert_df("audit_log", pd.DataFrame([row]))


def entries(
    wh: Warehouse,
    *,
    action: str | None = None,
    agent: str | None = None,
    hours: float | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows newest first, each as `{"timestamp", "agent", "action", "actor", "ran_as", "reason", ...details}`."""
    clauses, params = [], {}
    if action:
        clauses.append("action = :action")
        params["action"] = action
    if agent:
        clauses.append("agent = :agent")
        params["agent"] = agent
    end = _utc_naive(as_of) if as_of else None
    if end is not None:
        clauses.append('"at" < :end')
        params["end"] = end
    if hours is not None:
        clauses.append('"at" >= :since')
        params["since"] = (end or datetime.now(timezone.utc).replace(tzinfo=None)) - timedelta(hours=hours)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = wh.query_df(f'SELECT "at", agent, action, actor, ran_as, reason, details FROM audit_log {where} '
                        'ORDER BY "at" DESC, action', params)
    out = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        details = json.loads(row.pop("details") or "{}")
        at = pd.Timestamp(row.pop("at"))
        out.append({"timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **row, **details})
    return out
