"""Approvals of bundles (SPEC §10): the recommendation and a pure state machine.

    pending --approve--> approved --apply--> applied
    pending --reject---> rejected

Every transition takes the approval and returns a new one, or raises
`ApprovalError` (one line) and changes nothing. Decisions are final.

Rules: approver/rejector and rationale are required and non-empty (after
stripping). The approver may not be the proposer: neither the same name
(compared case-insensitively, stripped) nor, when both are recorded, the same
real identity `ran_as` (OS user@host or UI user) — so one person cannot
approve their own proposal by typing another name. The check on `ran_as` can
be switched off (`check_ran_as=False`) for single-user setups such as demos.
A proposer may reject (withdraw) their own proposal. `apply` needs an
approved approval and a canary percent of 10, 50 or 100 (100 = forced
promotion).

**Recommendation** (`recommend`): "reject" when accuracy_delta < 0,
training_count < 50 or a threshold lies outside its bounds; "approve" when
accuracy_delta > 0.02, training_count >= 100 and all thresholds are within
bounds; else "review". An unknown accuracy_delta (None: no stable bundle to
compare with, or a bundle without a model) or an unknown training_count
(None: manual bundle without a base) never approves and never rejects by
itself: the other rules still reject, else "review".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from learning_loop.domain.active_learning.agents import AgentBounds
from learning_loop.domain.active_learning.examples import utc_naive

STATUSES = ("pending", "approved", "rejected", "applied")
RECOMMENDATIONS = ("approve", "reject", "review")
CANARY_PERCENTS = (10, 50, 100)
APPROVE_MIN_ACCURACY_DELTA = 0.02
APPROVE_MIN_TRAINING = 100
REJECT_MIN_TRAINING = 50


class ApprovalError(ValueError):
    """An approval command breaks a rule (one line)."""


@dataclass(frozen=True)
class Approval:
    approval_id: str
    agent: str
    bundle_id: str
    status: str
    recommendation: str
    diff: dict[str, Any]
    training_count: int | None
    requested_by: str
    requested_ran_as: str | None
    created_at: datetime
    decided_by: str | None = None
    decided_ran_as: str | None = None
    decided_at: datetime | None = None
    rationale: str | None = None
    applied_at: datetime | None = None
    canary_percent: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """All fields; times as ISO-8601 UTC with `Z`."""
        record = asdict(self)
        for key in ("created_at", "decided_at", "applied_at"):
            if record[key] is not None:
                record[key] = utc_naive(record[key]).isoformat() + "Z"
        return record


def recommend(
    diff: Mapping[str, Any], training_count: int | None, thresholds: Mapping[str, float], bounds: AgentBounds
) -> str:
    """"approve", "reject" or "review" (see the module doc)."""
    delta = diff.get("accuracy_delta")
    in_bounds = bounds.all_within(thresholds)
    if (delta is not None and delta < 0) or (training_count is not None and training_count < REJECT_MIN_TRAINING):
        return "reject"
    if not in_bounds:
        return "reject"
    if (
        delta is not None
        and delta > APPROVE_MIN_ACCURACY_DELTA
        and training_count is not None
        and training_count >= APPROVE_MIN_TRAINING
    ):
        return "approve"
    return "review"


def new_approval_id(agent: str, bundle_id: str, created_at: datetime) -> str:
    """`approval-<12 hex>`: sha256 of agent, bundle and creation time (deterministic)."""
    key = f"{agent}|{bundle_id}|{utc_naive(created_at).isoformat()}"
    return "approval-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _required(value: str | None, what: str) -> str:
    if value is None or not str(value).strip():
        raise ApprovalError(f"{what} is required and must not be empty")
    return str(value).strip()


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold() and bool(a.strip())


def propose(
    *,
    agent: str,
    bundle_id: str,
    proposer: str,
    ran_as: str | None,
    at: datetime,
    diff: Mapping[str, Any],
    training_count: int | None,
    thresholds: Mapping[str, float],
    bounds: AgentBounds,
) -> Approval:
    """A new pending approval with its recommendation."""
    proposer = _required(proposer, "proposer")
    return Approval(
        approval_id=new_approval_id(agent, bundle_id, at),
        agent=agent,
        bundle_id=bundle_id,
        status="pending",
        recommendation=recommend(diff, training_count, thresholds, bounds),
        diff=dict(diff),
        training_count=training_count,
        requested_by=proposer,
        requested_ran_as=ran_as,
        created_at=utc_naive(at).to_pydatetime(),
    )


def _decide(approval: Approval, status: str, who: str, role: str, rationale: str, ran_as: str | None, at) -> Approval:
    who = _required(who, role)
    rationale = _required(rationale, "rationale")
    if approval.status != "pending":
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        raise ApprovalError(
            f"approval {approval.approval_id} is already {approval.status}{by}; only a pending approval can be decided"
        )
    return replace(
        approval,
        status=status,
        decided_by=who,
        decided_ran_as=ran_as,
        decided_at=utc_naive(at).to_pydatetime(),
        rationale=rationale,
    )


def approve(
    approval: Approval,
    approver: str,
    rationale: str,
    ran_as: str | None,
    at: datetime,
    *,
    check_ran_as: bool = True,
) -> Approval:
    """pending → approved, by someone other than the proposer."""
    decided = _decide(approval, "approved", approver, "approver", rationale, ran_as, at)
    if _same(decided.decided_by, approval.requested_by):
        raise ApprovalError(f"the approver may not be the proposer ({approval.requested_by})")
    if check_ran_as and _same(ran_as, approval.requested_ran_as):
        raise ApprovalError(
            f"the approver may not be the proposer: both ran as {approval.requested_ran_as} "
            f"(proposed as {approval.requested_by}, approving as {decided.decided_by})"
        )
    return decided


def reject(approval: Approval, rejector: str, rationale: str, ran_as: str | None, at: datetime) -> Approval:
    """pending → rejected (the proposer may withdraw their own proposal)."""
    return _decide(approval, "rejected", rejector, "rejector", rationale, ran_as, at)


def apply(approval: Approval, canary_percent: int, at: datetime) -> Approval:
    """approved → applied at `canary_percent` (10, 50 or 100; 100 is a forced promotion)."""
    if isinstance(canary_percent, bool) or canary_percent not in CANARY_PERCENTS:
        raise ApprovalError(f"canary percent must be 10, 50 or 100, got {canary_percent!r}")
    if approval.status != "approved":
        raise ApprovalError(
            f"approval {approval.approval_id} is {approval.status}; only an approved approval can be applied"
        )
    return replace(approval, status="applied", applied_at=utc_naive(at).to_pydatetime(), canary_percent=int(canary_percent))


def is_forced_promotion(approval: Approval) -> bool:
    """Applied at 100 %: the bundle became stable at once, skipping the canary."""
    return approval.status == "applied" and approval.canary_percent == 100

