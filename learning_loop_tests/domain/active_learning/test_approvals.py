"""Approval recommendation and state machine (SPEC §10)."""

from __future__ import annotations

from datetime import datetime

import pytest

from learning_loop.domain.active_learning import approvals as ap
from learning_loop.domain.active_learning.agents import AgentBounds
from learning_loop.domain.active_learning.approvals import ApprovalError, new_approval_id, recommend

BOUNDS = AgentBounds()
OK = {"decision_threshold": 0.5, "risk_score_threshold": 65.0}
T0 = datetime(2024, 1, 15, 10, 0, 0)


@pytest.mark.parametrize(
    "delta, count, thresholds, expected",
    [
        (0.03, 120, OK, "approve"),
        (0.03, 100, OK, "approve"),
        (0.02, 120, OK, "review"),  # not more than 2 %
        (0.03, 99, OK, "review"),
        (0.0, 120, OK, "review"),
        (-0.001, 500, OK, "reject"),
        (0.05, 49, OK, "reject"),
        (0.05, 50, OK, "review"),
        (0.05, 200, {**OK, "risk_score_threshold": 95.0}, "reject"),
        (None, 200, OK, "review"),
        (None, 20, OK, "reject"),
        (0.05, None, OK, "review"),
        (None, None, {"decision_threshold": 0.99}, "reject"),
    ],
)
def test_recommend(delta, count, thresholds, expected):
    assert recommend({"changes": [], "accuracy_delta": delta}, count, thresholds, BOUNDS) == expected


def pending(**changes) -> ap.Approval:
    base = ap.propose(
        agent="inbox_triage",
        bundle_id="inbox_triage_20240115_100000",
        proposer="Alice",
        ran_as="alice@host1",
        at=T0,
        diff={"changes": [], "accuracy_delta": 0.03},
        training_count=120,
        thresholds=OK,
        bounds=BOUNDS,
    )
    return base if not changes else ap.Approval(**{**base.__dict__, **changes})


def test_propose():
    approval = pending()
    assert approval.status == "pending" and approval.recommendation == "approve"
    assert approval.requested_by == "Alice" and approval.requested_ran_as == "alice@host1"
    assert approval.approval_id == new_approval_id("inbox_triage", "inbox_triage_20240115_100000", T0)
    assert approval.approval_id.startswith("approval-") and len(approval.approval_id) == len("approval-") + 12
    assert new_approval_id("inbox_triage", "inbox_triage_20240115_100000", datetime(2024, 1, 15, 10, 0, 1)) != approval.approval_id
    with pytest.raises(ApprovalError, match="proposer is required"):
        ap.propose(agent="a", bundle_id="b", proposer=" ", ran_as=None, at=T0, diff={}, training_count=1,
                   thresholds={}, bounds=BOUNDS)


def test_approve_then_apply():
    approved = ap.approve(pending(), " ops_lead ", " 3% better ", "bob@host2", datetime(2024, 1, 15, 11))
    assert approved.status == "approved" and approved.decided_by == "ops_lead" and approved.rationale == "3% better"
    assert approved.decided_ran_as == "bob@host2" and approved.decided_at == datetime(2024, 1, 15, 11)
    applied = ap.apply(approved, 10, datetime(2024, 1, 15, 12))
    assert applied.status == "applied" and applied.canary_percent == 10 and not ap.is_forced_promotion(applied)
    assert ap.is_forced_promotion(ap.apply(approved, 100, datetime(2024, 1, 15, 12)))
    doc = applied.to_json_dict()
    assert doc["created_at"] == "2024-01-15T10:00:00Z" and doc["applied_at"] == "2024-01-15T12:00:00Z"


@pytest.mark.parametrize("approver", ["Alice", " alice ", "ALICE"])
def test_self_approval_by_name(approver):
    with pytest.raises(ApprovalError, match=r"approver may not be the proposer \(Alice\)"):
        ap.approve(pending(), approver, "fine", "someone@else", T0)


def test_self_approval_by_real_identity():
    with pytest.raises(ApprovalError, match="both ran as alice@host1"):
        ap.approve(pending(), "ops_lead", "fine", "Alice@Host1", T0)
    # single-user setups may switch the identity check off; the name check stays
    assert ap.approve(pending(), "ops_lead", "fine", "alice@host1", T0, check_ran_as=False).status == "approved"
    # no recorded identity on either side: only names are compared
    assert ap.approve(pending(requested_ran_as=None), "ops_lead", "ok", "alice@host1", T0).status == "approved"


@pytest.mark.parametrize("who, rationale, message", [("", "ok", "approver is required"), ("bob", "  ", "rationale is required"),
                                                     (None, "ok", "approver is required")])
def test_approver_and_rationale_required(who, rationale, message):
    with pytest.raises(ApprovalError, match=message):
        ap.approve(pending(), who, rationale, "bob@h", T0)


def test_reject_rules():
    rejected = ap.reject(pending(), "ops_lead", "too little data", "bob@h", T0)
    assert rejected.status == "rejected" and rejected.decided_by == "ops_lead"
    with pytest.raises(ApprovalError, match="rejector is required"):
        ap.reject(pending(), " ", "x", "bob@h", T0)
    with pytest.raises(ApprovalError, match="rationale is required"):
        ap.reject(pending(), "bob", "", "bob@h", T0)
    assert ap.reject(pending(), "Alice", "withdrawn", "alice@host1", T0).status == "rejected"  # proposer may withdraw


def test_decisions_are_final():
    approved = ap.approve(pending(), "bob", "ok", "bob@h", T0)
    rejected = ap.reject(pending(), "bob", "no", "bob@h", T0)
    applied = ap.apply(approved, 50, T0)
    for done in (approved, rejected, applied):
        with pytest.raises(ApprovalError, match=f"already {done.status} by bob; only a pending approval can be decided"):
            ap.approve(done, "carol", "ok", "carol@h", T0)
        with pytest.raises(ApprovalError, match="only a pending approval"):
            ap.reject(done, "carol", "no", "carol@h", T0)


def test_apply_rules():
    with pytest.raises(ApprovalError, match="is pending; only an approved approval can be applied"):
        ap.apply(pending(), 10, T0)
    rejected = ap.reject(pending(), "bob", "no", "bob@h", T0)
    with pytest.raises(ApprovalError, match="is rejected"):
        ap.apply(rejected, 10, T0)
    approved = ap.approve(pending(), "bob", "ok", "bob@h", T0)
    for bad in (0, 25, 101, True, "10"):
        with pytest.raises(ApprovalError, match="canary percent must be 10, 50 or 100"):
            ap.apply(approved, bad, T0)
    with pytest.raises(ApprovalError, match="is applied"):
        ap.apply(ap.apply(approved, 10, T0), 50, T0)
