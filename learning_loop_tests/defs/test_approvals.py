"""approval_action op job on both backends: the flow, self-approval, the pending check, pause does not block."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import dagster as dg
import pytest

from learning_loop.defs.active_learning.approvals import pending_approvals
from learning_loop.domain.active_learning.training import train_bundle
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores import canaries as canary_store
from learning_loop_tests.bundle_helpers import AGENT, ALICE, BOB, action, counts, failure_message, label_rows, run

T0 = datetime(2024, 1, 10)


@pytest.fixture(scope="module")
def trained():
    return train_bundle(label_rows(n=120), agent=AGENT, as_of=T0)


@pytest.fixture
def world(runtime, warehouse, trained):
    with warehouse.transaction() as tx:
        for i in range(7):
            bundle_store.save(tx, replace(trained, bundle_id=f"b{i}"), at=T0, created_by="ops", ran_as=ALICE)
    return warehouse


def _ok(result: dg.ExecuteInProcessResult) -> dict:
    assert result.success, failure_message(result)
    return result.output_for_node("approval_action_op")


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return evaluation


def test_propose_approve_apply_flow(world):
    result = action("propose", agent=AGENT, bundle_id="b0", actor="admin", as_of="2024-01-10T01:00:00Z")
    approval_id = _ok(result)["approval_id"]
    assert _check(result).passed and _check(result).metadata["pending"].value == 1.0
    mats = {e.event_specific_data.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert mats == {"approvals"}
    approved = _ok(action("approve", approval_id=approval_id, actor="ops_lead", rationale="3% better",
                          as_of="2024-01-10T02:00:00Z", ran_as=BOB))
    assert approved["status"] == "approved" and approved["decided_ran_as"] == BOB
    result = action("apply", approval_id=approval_id, canary_percent=100, as_of="2024-01-10T03:00:00Z", ran_as=BOB)
    out = _ok(result)
    assert out["status"] == "force_promoted" and out["forced"] and out["deployment"]["stable_bundle_id"] == "b0"
    mats = {e.event_specific_data.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert mats == {"approvals", "canaries"}
    second = _ok(action("propose", agent=AGENT, bundle_id="b1", actor="admin", as_of="2024-01-10T04:00:00Z"))["approval_id"]
    _ok(action("approve", approval_id=second, actor="ops_lead", rationale="ok", as_of="2024-01-10T05:00:00Z", ran_as=BOB))
    out = _ok(action("apply", approval_id=second, canary_percent=10, as_of="2024-01-10T06:00:00Z", ran_as=BOB))
    assert out["status"] == "deployed" and out["canary_percent"] == 10
    assert canary_store.load(world, AGENT).active_dict() == {
        "agent": AGENT, "stable_bundle_id": "b0", "canary_bundle_id": "b1", "canary_percent": 10}
    assert [e["action"] for e in audit.entries(world)] == [
        "applied", "approved", "proposed", "applied", "force_promoted", "approved", "proposed"]


def test_same_identity_cannot_approve_unless_allowed(world, monkeypatch):
    approval_id = _ok(action("propose", agent=AGENT, bundle_id="b0", actor="admin", as_of="2024-01-10T01:00:00Z"))["approval_id"]
    before = counts(world)
    result = action("approve", approval_id=approval_id, actor="ops_lead", rationale="ok", as_of="2024-01-10T02:00:00Z",
                    ran_as=ALICE)
    assert not result.success and f"both ran as {ALICE}" in failure_message(result)
    assert counts(world) == before
    monkeypatch.setenv("LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL", "on")
    out = _ok(action("approve", approval_id=approval_id, actor="ops_lead", rationale="single operator demo",
                     as_of="2024-01-10T02:00:00Z", ran_as=ALICE))
    assert out["status"] == "approved"
    assert audit.entries(world, action="approved")[0]["same_operator_override"] is True


def test_more_than_five_pending_is_a_warn_check(world):
    for i in range(6):
        result = action("propose", agent=AGENT, bundle_id=f"b{i}", actor="admin", as_of=f"2024-01-10T0{i + 1}:00:00Z")
        _ok(result)
    evaluation = _check(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["pending"].value == 6.0
    standalone = pending_approvals(warehouse=WarehouseResource(url=world.url))
    assert not standalone.passed and standalone.severity == dg.AssetCheckSeverity.WARN


def test_manual_approvals_work_while_paused(world):
    paused = run("set_learning_state", "set_learning_state_op",
                 {"paused": True, "reason": "investigating", "actor": "ops", "as_of": "2024-01-10T00:30:00Z"})
    assert paused.success, failure_message(paused)
    approval_id = _ok(action("propose", agent=AGENT, bundle_id="b0", actor="admin", as_of="2024-01-10T01:00:00Z"))["approval_id"]
    _ok(action("approve", approval_id=approval_id, actor="ops_lead", rationale="hotfix", as_of="2024-01-10T02:00:00Z", ran_as=BOB))
    assert _ok(action("apply", approval_id=approval_id, canary_percent=100, as_of="2024-01-10T03:00:00Z", ran_as=BOB))["status"] == "force_promoted"
