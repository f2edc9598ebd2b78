"""Pause and resume of active learning (SPEC §12), stored in `learning_state`.

Every change appends a row (the newest row is the current state) together with
its audit row, in one transaction. Schedules and sensors of the feeds, bundle
training, judge weights and the guard call `skip_reason` and skip while paused.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from learning_loop.domain.active_learning.pause import RUNNING, PauseState, pause, resume, skip_reason
from learning_loop.stores import audit
from learning_loop.warehouse.backend import Transaction, Warehouse


def current(source: Transaction | Warehouse) -> PauseState:
    """The newest state (running when nobody ever paused)."""
    frame = source.query_df(
        "SELECT paused, reason, actor, changed_at FROM learning_state ORDER BY changed_at DESC LIMIT 1"
    )
    if frame.empty:
        return RUNNING
    row = frame.iloc[0]
    return PauseState(
        paused=bool(row["paused"]),
        reason=None if pd.isna(row["reason"]) else str(row["reason"]),
        actor=None if pd.isna(row["actor"]) else str(row["actor"]),
        at=pd.Timestamp(row["changed_at"]).to_pydatetime(),
    )


def pause_reason(wh: Warehouse) -> str | None:
    """Why automatic learning is skipped now, or None when it runs."""
    return skip_reason(current(wh))


def set_paused(
    tx: Transaction, *, paused: bool, reason: str | None, actor: str, ran_as: str, at: datetime, run_id: str | None = None
) -> PauseState:
    """Pause (with a reason) or resume; the state row and the audit row go in the caller's transaction."""
    state = pause(reason or "", actor, at) if paused else resume(actor, at)
    tx.insert_df(
        "learning_state",
        pd.DataFrame([{"paused": state.paused, "reason": state.reason, "actor": state.actor, "ran_as": ran_as,
                       "changed_at": state.at}]),
    )
    audit.append(tx, at=state.at, action="paused" if paused else "resumed", actor=actor, ran_as=ran_as,
                 reason=state.reason, run_id=run_id)
    return state
