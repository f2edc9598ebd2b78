"""Approvals of bundles (SPEC §10) in the `approvals` table.

Each state change loads the approval, applies the pure transition of
`domain.active_learning.approvals` (which validates it), replaces the row and
appends the audit row (`proposed`, `approved`, `rejected`, `applied`) in the
caller's transaction; an invalid change raises a `ValueError` and writes
nothing. `apply` also changes the agent's deployment through
`stores.canaries.change` (audit `applied` for a canary at 10/50 %,
`force_promoted` at 100 %, where the approval's own `applied` row is added so
that every apply has exactly one `applied` row).

The `prepare_*` functions do the same checks without writing, so the CLI can
refuse bad input before it launches a run.

Prompt bundles (`domain.active_learning.prompt_bundles`) are proposed like any
bundle: their diff is the prompt diff, no bound applies (they change no
threshold), and they can only be proposed while the stable bundle is still
the one they were built on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from learning_loop.domain.active_learning import approvals as domain
from learning_loop.domain.active_learning.approvals import Approval, ApprovalError
from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.prompt_bundles import is_prompt_bundle
from learning_loop.domain.canaries import Transition, apply_bundle
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores import canaries as canary_store
from learning_loop.stores.agents import agent_config
from learning_loop.warehouse.backend import Transaction, Warehouse

Source = Transaction | Warehouse

#: Runbook alert: more pending approvals than this is a WARN.
MAX_PENDING = 5

_COLUMNS = (
    "approval_id", "agent", "bundle_id", "status", "recommendation", "diff", "training_count", "requested_by",
    "requested_ran_as", "created_at", "decided_by", "decided_ran_as", "decided_at", "rationale", "applied_at",
    "canary_percent",
)


class UnknownApproval(ValueError):
    """No approval with that id."""


def _naive(value: datetime) -> datetime:
    return utc_naive(value).to_pydatetime()


def _value(value: Any) -> Any:
    if value is None or (not isinstance(value, (str, dict, list)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _from_row(row: dict[str, Any]) -> Approval:
    values = {k: _value(row[k]) for k in _COLUMNS}
    values["diff"] = json.loads(values["diff"] or "{}")
    for key in ("training_count", "canary_percent"):
        values[key] = None if values[key] is None else int(values[key])
    return Approval(**values)


def load(source: Source, approval_id: str) -> Approval:
    """The approval, or `UnknownApproval`."""
    frame = source.query_df(f"SELECT {', '.join(_COLUMNS)} FROM approvals WHERE approval_id = :a", {"a": approval_id})
    if frame.empty:
        raise UnknownApproval(f"unknown approval {approval_id!r}")
    return _from_row(frame.iloc[0].to_dict())


def listing(
    source: Source, *, status: str | None = None, hours: float | None = None, as_of: datetime | None = None
) -> list[Approval]:
    """Approvals, newest first. `hours`: only those created, decided or applied in the `hours` before
    `as_of` (default now); `as_of` also hides approvals created at or after it."""
    clauses, params = [], {}
    if status:
        clauses.append("status = :status")
        params["status"] = status
    if as_of is not None:
        clauses.append("created_at < :end")
        params["end"] = _naive(as_of)
    frame = source.query_df(
        f"SELECT {', '.join(_COLUMNS)} FROM approvals {'WHERE ' + ' AND '.join(clauses) if clauses else ''} "
        "ORDER BY created_at DESC, approval_id",
        params,
    )
    items = [_from_row(r) for r in frame.to_dict("records")]
    if hours is not None:
        end = _naive(as_of) if as_of is not None else utc_naive(pd.Timestamp.now(tz="UTC")).to_pydatetime()
        since = end - timedelta(hours=hours)
        items = [a for a in items if any(t is not None and since <= t < end for t in (a.created_at, a.decided_at, a.applied_at))]
    return items


def pending_count(source: Source) -> int:
    return int(source.scalar("SELECT count(*) FROM approvals WHERE status = 'pending'"))


def save(tx: Transaction, approval: Approval) -> None:
    """Replace the approval's row (its state; the history is in the audit log)."""
    tx.execute("DELETE FROM approvals WHERE approval_id = :a", {"a": approval.approval_id})
    record = {k: getattr(approval, k) for k in _COLUMNS}
    record["diff"] = json.dumps(approval.diff, sort_keys=True)
    tx.insert_df("approvals", pd.DataFrame([record]))


def _not_before(at: datetime, earlier: datetime, what: str) -> None:
    if _naive(at) < _naive(earlier):
        raise ApprovalError(f"--as-of {_naive(at).isoformat()}Z is before {what} at {_naive(earlier).isoformat()}Z")


# ---------------------------------------------------------------------------------------------- propose


def prepare_proposal(
    source: Source, *, agent: str, bundle_id: str, proposer: str, ran_as: str, at: datetime, home: str | Path
) -> Approval:
    """The new pending approval (diff against the stable bundle, recommendation with the agent's
    bounds), checked but not written."""
    bundle = bundle_store.require(source, bundle_id, agent)
    _not_before(at, bundle_store.created_at(source, bundle_id) or _naive(at), f"bundle {bundle_id} was created")
    open_ = source.query_df(
        "SELECT approval_id, status FROM approvals WHERE bundle_id = :b AND status IN ('pending', 'approved')",
        {"b": bundle_id},
    )
    if not open_.empty:
        raise ApprovalError(
            f"bundle {bundle_id} already has an open approval {open_['approval_id'].iat[0]} ({open_['status'].iat[0]})"
        )
    if canary_store.load(source, agent).stable_bundle_id == bundle_id:
        raise ApprovalError(f"bundle {bundle_id} is already the stable bundle of {agent}")
    prompt = is_prompt_bundle(bundle)
    if prompt:
        stable_id = canary_store.load(source, agent).stable_bundle_id
        if bundle.base_bundle_id != stable_id:
            raise ApprovalError(
                f"prompt bundle {bundle_id} was built on stable bundle {bundle.base_bundle_id or 'none'}, but the "
                f"stable bundle of {agent} is now {stable_id or 'none'}; create a new one with bundles from-prompt"
            )
    config = agent_config(home, agent)
    approval = domain.propose(
        agent=agent, bundle_id=bundle_id, proposer=proposer, ran_as=ran_as, at=_naive(at),
        diff=bundle_store.diff(source, bundle), training_count=bundle.training_count,
        # a prompt bundle keeps its base's (= the stable bundle's) thresholds: bounds apply to none of them
        thresholds={} if prompt else bundle.thresholds, bounds=config.bounds,
    )
    if source.scalar("SELECT count(*) FROM approvals WHERE approval_id = :a", {"a": approval.approval_id}):
        raise ApprovalError(f"approval {approval.approval_id} already exists")
    return approval


def propose(
    tx: Transaction, *, agent: str, bundle_id: str, proposer: str, ran_as: str, at: datetime, home: str | Path,
    run_id: str | None = None,
) -> Approval:
    approval = prepare_proposal(tx, agent=agent, bundle_id=bundle_id, proposer=proposer, ran_as=ran_as, at=at, home=home)
    save(tx, approval)
    audit.append(
        tx, at=at, agent=agent, action="proposed", actor=approval.requested_by, ran_as=ran_as, run_id=run_id,
        details={"approval_id": approval.approval_id, "bundle_id": bundle_id,
                 "recommendation": approval.recommendation, "training_count": approval.training_count,
                 "accuracy_delta": approval.diff.get("accuracy_delta")},
    )
    return approval


# ---------------------------------------------------------------------------------------------- decide


@dataclass(frozen=True)
class Decision:
    approval: Approval
    same_operator_override: bool  # approved although proposer and approver ran as the same identity


def prepare_decision(
    source: Source, approval_id: str, *, action: str, who: str, rationale: str, ran_as: str, at: datetime,
    allow_same_operator: bool = False,
) -> Decision:
    """The decided approval (`action` approve or reject), checked but not written."""
    current = load(source, approval_id)
    _not_before(at, current.created_at, f"approval {approval_id} was created")
    if action == "approve":
        decided = domain.approve(current, who, rationale, ran_as, _naive(at), check_ran_as=not allow_same_operator)
        same = bool(
            ran_as and current.requested_ran_as
            and ran_as.strip().casefold() == current.requested_ran_as.strip().casefold()
        )
        return Decision(decided, allow_same_operator and same)
    if action == "reject":
        return Decision(domain.reject(current, who, rationale, ran_as, _naive(at)), False)
    raise ApprovalError(f"unknown decision {action!r} (expected approve or reject)")


def decide(
    tx: Transaction, approval_id: str, *, action: str, who: str, rationale: str, ran_as: str, at: datetime,
    allow_same_operator: bool = False, run_id: str | None = None,
) -> Decision:
    decision = prepare_decision(tx, approval_id, action=action, who=who, rationale=rationale, ran_as=ran_as, at=at,
                                allow_same_operator=allow_same_operator)
    approval = decision.approval
    save(tx, approval)
    details: dict[str, Any] = {"approval_id": approval.approval_id, "bundle_id": approval.bundle_id,
                               "proposer": approval.requested_by}
    if decision.same_operator_override:
        details["same_operator_override"] = True
        details["note"] = "approved from the same OS identity as the proposal (LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL)"
    audit.append(
        tx, at=at, agent=approval.agent, action="approved" if action == "approve" else "rejected",
        actor=approval.decided_by or who, ran_as=ran_as, reason=approval.rationale, details=details, run_id=run_id,
    )
    return decision


# ---------------------------------------------------------------------------------------------- apply


def prepare_apply(source: Source, approval_id: str, *, canary_percent: int, at: datetime) -> tuple[Approval, Transition]:
    """The applied approval and the deployment transition, checked but not written."""
    current = load(source, approval_id)
    if current.decided_at is not None:
        _not_before(at, current.decided_at, f"approval {approval_id} was {current.status}")
    applied = domain.apply(current, canary_percent, _naive(at))
    transition = apply_bundle(canary_store.load(source, current.agent), current.bundle_id, canary_percent, at)
    return applied, transition


def apply(
    tx: Transaction, approval_id: str, *, canary_percent: int, at: datetime, actor: str | None, ran_as: str,
    run_id: str | None = None,
) -> tuple[Approval, Transition]:
    """approved → applied: a canary at 10/50 %, or (100) a forced promotion to stable."""
    applied, _ = prepare_apply(tx, approval_id, canary_percent=canary_percent, at=at)
    actor = (actor or "").strip() or applied.decided_by or "operator"
    details = {"approval_id": approval_id, "bundle_id": applied.bundle_id}
    forced = canary_percent == 100
    transition = canary_store.change(
        tx, applied.agent, lambda dep: apply_bundle(dep, applied.bundle_id, canary_percent, at),
        at=at, actor=actor, ran_as=ran_as, run_id=run_id,
        reason="forced promotion: the canary was skipped" if forced else None, details=details,
    )
    save(tx, applied)
    if forced:
        audit.append(
            tx, at=at, agent=applied.agent, action="applied", actor=actor, ran_as=ran_as, run_id=run_id,
            reason="forced promotion: the canary was skipped",
            details={**details, "canary_percent": 100, "forced": True},
        )
    return applied, transition


# ---------------------------------------------------------------------------------------------- views


def to_json(approval: Approval) -> dict[str, Any]:
    """The runbook's pending-approval document: `id` (= approval_id) plus every field."""
    return {"id": approval.approval_id, **approval.to_json_dict()}
