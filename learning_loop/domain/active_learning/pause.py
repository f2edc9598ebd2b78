"""Pausing active learning (SPEC §12).

While paused, the schedules and sensors that load labels, judgments and
decisions, update judge weights and run the guard skip with `skip_reason`;
manual approvals, promotions and rollbacks still work. Video and metric
ingestion is not paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from learning_loop.domain.active_learning.examples import utc_naive


class PauseError(ValueError):
    """A pause command breaks a rule (one line)."""


@dataclass(frozen=True)
class PauseState:
    paused: bool
    reason: str | None = None
    actor: str | None = None
    at: datetime | None = None


#: The state before anyone ever paused.
RUNNING = PauseState(paused=False)


def pause(reason: str, actor: str, at: datetime) -> PauseState:
    """The paused state; `reason` and `actor` are required and non-empty."""
    if reason is None or not reason.strip():
        raise PauseError("pause needs a non-empty --reason")
    if actor is None or not actor.strip():
        raise PauseError("pause needs a non-empty --actor")
    return PauseState(True, reason.strip(), actor.strip(), utc_naive(at).to_pydatetime())


def resume(actor: str, at: datetime) -> PauseState:
    """The running state, remembering who resumed and when."""
    return PauseState(False, None, (actor or "").strip() or None, utc_naive(at).to_pydatetime())


def skip_reason(state: PauseState | None) -> str | None:
    """None when learning runs; else `learning paused by X at T: reason` for a SkipReason."""
    if state is None or not state.paused:
        return None
    at = f"{utc_naive(state.at).isoformat()}Z" if state.at is not None else "an unknown time"
    return f"learning paused by {state.actor or 'unknown'} at {at}: {state.reason or 'no reason given'}"
