"""train_bundle / upload_bundle op jobs and the bundle_training_nightly schedule on both backends."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
import pytest

from learning_loop.definitions import defs
from learning_loop.defs.active_learning.bundles import bundle_training_nightly
from learning_loop.stores import approvals as approval_store
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop_tests.bundle_helpers import (
    AGENT,
    ALICE,
    action,
    counts,
    failure_message,
    insert_labels,
    label_rows,
    run,
    train,
)
from learning_loop_tests.helpers import env_resources

SPEC_KEYS = {"bundle_id", "agent", "model_type", "training_count", "accuracy", "thresholds"}


@pytest.fixture
def labeled(runtime, warehouse):
    insert_labels(warehouse, label_rows(n=150))
    insert_labels(warehouse, label_rows("post_gate", n=10, prefix="pg"))
    return warehouse


def test_train_bundle_job_writes_bundle_audit_and_metadata(labeled):
    result = train("2024-01-10T00:00:00Z", model_type="tree", seed=3)
    assert result.success, failure_message(result)
    out = result.output_for_node("train_bundle_op")
    assert set(out) == SPEC_KEYS
    assert out["bundle_id"] == "inbox_triage_20240110_000000" and out["model_type"] == "tree"
    assert out["training_count"] == 150 and "risk_score_importance" in out["thresholds"]
    (mat,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.asset_key == dg.AssetKey("bundles")
    assert mat.metadata["accuracy"].value == pytest.approx(out["accuracy"])
    assert isinstance(mat.metadata["training_count"].value, float) and mat.metadata["training_count"].value == 150.0
    (entry,) = audit.entries(labeled)
    assert (entry["action"], entry["ran_as"], entry["bundle_id"]) == ("bundle_created", ALICE, out["bundle_id"])
    assert bundle_store.load(labeled, out["bundle_id"]).snapshot["seed"] == 3


def test_too_few_examples_fails_the_run_and_writes_nothing(labeled):
    before = counts(labeled)
    result = train("2024-01-10T00:00:00Z", agent="post_gate")
    assert not result.success
    assert "post_gate has 10 labeled examples, fewer than --min-examples 50" in failure_message(result)
    assert counts(labeled) == before


def test_upload_bundle_job(labeled):
    doc = {"agent": AGENT, "thresholds": {"decision_threshold": 0.4, "risk_score_weight": 1.5}}
    result = run("upload_bundle", "upload_bundle_op", {"document": json.dumps(doc), "as_of": "2024-01-11T00:00:00Z"})
    assert result.success, failure_message(result)
    out = result.output_for_node("upload_bundle_op")
    assert out["source"] == "manual" and out["base_bundle_id"] is None and out["model_type"] == "manual"
    assert out["thresholds"] == doc["thresholds"]
    assert [e["action"] for e in audit.entries(labeled)] == ["bundle_uploaded"]
    before = counts(labeled)
    bad = {"agent": AGENT, "thresholds": {"decision_threshold": 2.0}}
    result = run("upload_bundle", "upload_bundle_op", {"document": json.dumps(bad), "as_of": "2024-01-12T00:00:00Z"})
    assert not result.success and "out of bounds" in failure_message(result)
    assert counts(labeled) == before


def _tick(when: datetime, instance: dg.DagsterInstance):
    with dg.build_schedule_context(
        scheduled_execution_time=when, resources=env_resources(), instance=instance
    ) as context:
        return bundle_training_nightly.evaluate_tick(context)


def _run_request(request: dg.RunRequest, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Run a schedule's request the way the daemon would (schedule tags, no CLI identity)."""
    return defs.resolve_job_def("train_bundle").execute_in_process(
        run_config=request.run_config,
        resources=env_resources(),
        instance=instance,
        tags={**request.tags, "dagster/schedule_name": "bundle_training_nightly"},
        raise_on_error=False,
    )


def test_nightly_schedule_trains_and_proposes_per_agent(labeled, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    when = datetime(2024, 1, 10, 4, tzinfo=timezone.utc)
    data = _tick(when, instance)
    (request,) = data.run_requests  # post_gate: 10 labels, fewer than 20 new
    assert request.tags["learning_loop/agent"] == AGENT and request.run_key == f"{AGENT}:20240110T040000"
    result = _run_request(request, instance)
    assert result.success, failure_message(result)
    (approval,) = approval_store.listing(labeled, status="pending")
    assert approval.bundle_id == "inbox_triage_20240110_040000" and approval.requested_by == "system"
    assert approval.requested_ran_as == "schedule:bundle_training_nightly"
    actions = [(e["action"], e["ran_as"]) for e in audit.entries(labeled)]
    assert sorted(actions) == [("bundle_created", "schedule:bundle_training_nightly"),
                               ("proposed", "schedule:bundle_training_nightly")]
    # a human may approve the schedule's proposal without the same-operator override
    decided = action("approve", approval_id=approval.approval_id, actor="ops_lead", rationale="fine",
                     as_of="2024-01-10T10:00:00Z", ran_as=ALICE)
    assert decided.success, failure_message(decided)

    # the next night: no new labels since the bundle → skip, naming the counts
    data = _tick(datetime(2024, 1, 11, 4, tzinfo=timezone.utc), instance)
    assert not data.run_requests and "new labels since its last bundle" in data.skip_message
    assert "inbox_triage: 0 new label(s)" in data.skip_message


def test_nightly_schedule_skips_while_paused(labeled):
    with labeled.transaction() as tx:
        from learning_loop.stores.learning_state import set_paused

        set_paused(tx, paused=True, reason="investigating data quality", actor="ops", ran_as=ALICE,
                   at=datetime(2024, 1, 9))
    data = _tick(datetime(2024, 1, 10, 4, tzinfo=timezone.utc), dg.DagsterInstance.ephemeral())
    assert not data.run_requests and "investigating data quality" in data.skip_message
