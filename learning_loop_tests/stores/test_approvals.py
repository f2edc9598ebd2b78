"""stores.approvals on both backends: propose/decide/apply with audit rows, the rules, nothing changed on errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from learning_loop.domain.active_learning.approvals import ApprovalError
from learning_loop.domain.active_learning.training import train_bundle
from learning_loop.domain.canaries import CanaryError
from learning_loop.stores import approvals as store
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores import canaries as canary_store
from learning_loop_tests.bundle_helpers import AGENT, ALICE, BOB, counts, label_rows

T0 = datetime(2024, 1, 10)


@pytest.fixture(scope="module")
def trained():
    """One trained bundle (150 examples), stored under several ids by the tests."""
    return train_bundle(label_rows(n=150), agent=AGENT, as_of=T0)


@pytest.fixture
def world(warehouse, trained, tmp_path):
    with warehouse.transaction() as tx:
        for i in range(3):
            bundle_store.save(tx, replace(trained, bundle_id=f"b{i}"), at=T0, created_by="ops", ran_as=ALICE)
        bundle_store.save(tx, replace(trained, bundle_id="other", agent="post_gate"), at=T0, created_by="ops", ran_as=ALICE)
    return warehouse, tmp_path


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def propose(wh, home, bundle_id="b0", proposer="admin", ran_as=ALICE, hours=1):
    with wh.transaction() as tx:
        return store.propose(tx, agent=AGENT, bundle_id=bundle_id, proposer=proposer, ran_as=ran_as, at=_at(hours), home=home)


def decide(wh, approval_id, action="approve", who="ops_lead", rationale="looks good", ran_as=BOB, hours=2, **kw):
    with wh.transaction() as tx:
        return store.decide(tx, approval_id, action=action, who=who, rationale=rationale, ran_as=ran_as, at=_at(hours), **kw)


def apply(wh, approval_id, percent, hours=3, ran_as=BOB):
    with wh.transaction() as tx:
        return store.apply(tx, approval_id, canary_percent=percent, at=_at(hours), actor=None, ran_as=ran_as)


def test_propose_stores_pending_approval_with_recommendation(world):
    wh, home = world
    approval = propose(wh, home)
    assert approval.approval_id.startswith("approval-") and approval.status == "pending"
    assert approval.recommendation == "review"  # no stable bundle: accuracy_delta unknown
    assert approval.training_count == 150 and approval.diff["accuracy_delta"] is None
    loaded = store.load(wh, approval.approval_id)
    assert loaded == approval
    doc = store.to_json(loaded)
    assert doc["id"] == doc["approval_id"] and doc["created_at"] == "2024-01-10T01:00:00Z"
    assert {"agent", "bundle_id", "diff", "requested_by", "created_at", "recommendation", "training_count", "status"} <= set(doc)
    (entry,) = audit.entries(wh, action="proposed")
    assert entry["actor"] == "admin" and entry["ran_as"] == ALICE and entry["approval_id"] == approval.approval_id


def test_recommendation_uses_the_agent_bounds(world, trained):
    wh, home = world
    (home / "agents").mkdir()
    cut = trained.thresholds["decision_threshold"]
    (home / "agents" / f"{AGENT}.yaml").write_text(f"bounds:\n  decision_threshold: [{cut + 0.01}, 0.99]\n")
    assert propose(wh, home).recommendation == "reject"


def test_approve_against_a_better_stable_baseline(world):
    wh, home = world
    first = propose(wh, home, "b0")
    decide(wh, first.approval_id)
    apply(wh, first.approval_id, 100)
    second = propose(wh, home, "b1", hours=4)
    assert second.diff["accuracy_delta"] == 0.0 and second.recommendation == "review"  # same model: no gain


def test_proposal_refusals_change_nothing(world):
    wh, home = world
    propose(wh, home, "b0")
    before = counts(wh)
    with pytest.raises(ApprovalError, match="already has an open approval"):
        propose(wh, home, "b0", hours=2)
    with pytest.raises(bundle_store.UnknownBundle, match="unknown bundle 'nope'"):
        propose(wh, home, "nope")
    with pytest.raises(bundle_store.UnknownBundle, match="belongs to agent post_gate"):
        propose(wh, home, "other")
    with pytest.raises(ApprovalError, match="proposer is required"):
        propose(wh, home, "b1", proposer="  ")
    assert counts(wh) == before


def test_self_approval_is_refused_by_name_and_by_identity(world):
    wh, home = world
    approval = propose(wh, home, proposer="Admin", ran_as=ALICE)
    before = counts(wh)
    with pytest.raises(ApprovalError, match="may not be the proposer"):
        decide(wh, approval.approval_id, who=" admin ", ran_as=BOB)
    with pytest.raises(ApprovalError, match=f"both ran as {ALICE}"):
        decide(wh, approval.approval_id, who="ops_lead", ran_as=ALICE)
    assert counts(wh) == before and store.load(wh, approval.approval_id).status == "pending"
    decision = decide(wh, approval.approval_id, who="ops_lead", ran_as=ALICE, allow_same_operator=True)
    assert decision.same_operator_override and decision.approval.status == "approved"
    (entry,) = audit.entries(wh, action="approved")
    assert entry["same_operator_override"] is True and entry["reason"] == "looks good"


def test_override_is_not_flagged_for_different_identities(world):
    wh, home = world
    approval = propose(wh, home, ran_as="schedule:bundle_training_nightly", proposer="system")
    decision = decide(wh, approval.approval_id, ran_as=ALICE, allow_same_operator=True)
    assert not decision.same_operator_override
    assert "same_operator_override" not in audit.entries(wh, action="approved")[0]


def test_decisions_are_final_and_need_rationale(world):
    wh, home = world
    a = propose(wh, home, "b0").approval_id
    b = propose(wh, home, "b1").approval_id
    decide(wh, a, action="reject", who="ops_lead", rationale="insufficient data")
    decide(wh, b)
    before = counts(wh)
    with pytest.raises(ApprovalError, match="already rejected by ops_lead"):
        decide(wh, a)
    with pytest.raises(ApprovalError, match="already approved"):
        decide(wh, b, action="reject")
    with pytest.raises(ApprovalError, match="rationale is required"):
        decide(wh, propose(wh, home, "b2").approval_id, rationale=" ")
    with pytest.raises(store.UnknownApproval, match="unknown approval 'approval-000'"):
        decide(wh, "approval-000")
    with pytest.raises(ApprovalError, match="before approval .* was created"):
        decide(wh, b, hours=0)
    assert counts(wh)["audit_log"] == before["audit_log"] + 1  # only the b2 proposal
    assert store.load(wh, a).status == "rejected" and store.load(wh, a).rationale == "insufficient data"


def test_apply_canary_and_forced_promotion(world):
    wh, home = world
    first = propose(wh, home, "b0").approval_id
    before = counts(wh)
    with pytest.raises(ApprovalError, match="only an approved approval can be applied"):
        apply(wh, first, 10)
    decide(wh, first)
    with pytest.raises(ApprovalError, match="canary percent must be 10, 50 or 100"):
        apply(wh, first, 25)
    with pytest.raises(CanaryError, match="apply its first bundle with canary percent 100"):
        apply(wh, first, 10)
    assert counts(wh)["canaries"] == before["canaries"] == 0
    applied, transition = apply(wh, first, 100)
    assert applied.status == "applied" and applied.canary_percent == 100 and transition.action == "force_promoted"
    assert canary_store.load(wh, AGENT).stable_bundle_id == "b0"
    assert [e["action"] for e in audit.entries(wh, action="force_promoted")] == ["force_promoted"]
    (row,) = audit.entries(wh, action="applied")
    assert row["forced"] is True and row["actor"] == "ops_lead"  # default actor: the approver
    with pytest.raises(ApprovalError, match="is applied"):
        apply(wh, first, 100, hours=4)

    second = propose(wh, home, "b1", hours=4).approval_id
    decide(wh, second, hours=5)
    applied, transition = apply(wh, second, 10, hours=6)
    assert transition.action == "applied" and transition.deployment.canary_bundle_id == "b1"
    assert canary_store.load(wh, AGENT).active_dict() == {
        "agent": AGENT, "stable_bundle_id": "b0", "canary_bundle_id": "b1", "canary_percent": 10
    }
    applied_rows = audit.entries(wh, action="applied")
    assert len(applied_rows) == 2 and applied_rows[0]["approval_id"] == second  # exactly one row per apply


def test_listing_pending_and_recent(world):
    wh, home = world
    a = propose(wh, home, "b0", hours=1).approval_id
    b = propose(wh, home, "b1", hours=30).approval_id
    decide(wh, a, hours=40)
    assert [x.approval_id for x in store.listing(wh, status="pending")] == [b]
    assert store.pending_count(wh) == 1
    recent = store.listing(wh, hours=12, as_of=_at(41))
    assert [x.approval_id for x in recent] == [b, a]  # a was decided within the window
    assert [x.approval_id for x in store.listing(wh, hours=5, as_of=_at(35))] == [b]
    assert store.listing(wh, hours=48, as_of=_at(0.5)) == []


def test_cannot_propose_before_the_bundle_existed(world):
    wh, home = world
    with pytest.raises(ApprovalError, match="before bundle b0 was created"):
        propose(wh, home, "b0", hours=-1)
