"""The `canary_guard` op job, its nightly schedule and its decisions sensor (SPEC §11)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from learning_loop.defs.canaries.guard import (
    GUARD_OP,
    REGRESSION_CHECK,
    SRM_CHECK,
    STALLED_CHECK,
    canary_guard,
    canary_guard_nightly,
    canary_guard_sensor,
    canary_sample_ratio,
    guard_run_config,
)
from learning_loop.stores import canaries as canary_store
from learning_loop.stores.learning_state import set_paused
from learning_loop_tests.defs.test_canaries import (
    AGENT,
    DEPLOYED,
    audit_rows,
    decision_rows,
    deploy,
    insert_decisions,
)

LOOK = DEPLOYED + timedelta(days=2)


def run_guard(resources, instance=None, **config):
    config.setdefault("as_of", LOOK.isoformat())
    result = canary_guard.execute_in_process(
        run_config=guard_run_config(**config), resources=resources,
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    return result


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.event_specific_data.check_name: e.event_specific_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def _materializations(result) -> dict[str, dict]:
    out = {}
    for e in result.all_events:
        if e.is_step_materialization:
            mat = e.step_materialization_data.materialization
            out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def test_guard_rolls_back_a_clear_regression(warehouse, resources):
    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(100, 900, q_canary=0.6))
    result = run_guard(resources)
    assert result.success
    [entry] = result.output_for_node(GUARD_OP)
    assert (entry["agent"], entry["action"], entry["reason"]) == (AGENT, "rollback", "quality_regression")
    assert entry["performance"]["quality_delta"] == pytest.approx(-0.25, abs=0.03)
    dep = canary_store.load(warehouse, AGENT)
    assert (dep.canary_bundle_id, dep.canary_percent, dep.stable_bundle_id) == (None, 0, "b1")
    rolled = audit_rows(warehouse, "rolled_back")
    assert len(rolled) == 1
    row = rolled[0]
    assert (row["actor"], row["reason"], row["agent"], row["bundle_id"]) == ("guard", "quality_regression", AGENT, "b2")
    assert row["quality_delta"] == pytest.approx(entry["performance"]["quality_delta"])
    assert "latency_delta" in row and row["timestamp"] == LOOK.strftime("%Y-%m-%dT%H:%M:%SZ")
    [check] = audit_rows(warehouse, "guard_check")
    assert (check["actor"], check["reason"], check["guard_action"]) == ("guard", "quality_regression", "rollback")
    stored = warehouse.query_df("SELECT action, reason, n_canary, n_stable, run_id FROM canary_checks")
    assert stored.to_dict("records") == [{"action": "rollback", "reason": "quality_regression", "n_canary": 100,
                                          "n_stable": 900, "run_id": result.run_id}]
    mats = _materializations(result)
    assert mats["canary_checks"][f"quality_delta/{AGENT}"] == pytest.approx(entry["performance"]["quality_delta"])
    assert mats["canary_checks"][f"n_canary/{AGENT}"] == 100.0 and mats["canary_checks"]["rollbacks"] == 1.0
    assert mats["canaries"]["action"] == "rolled_back"
    checks = _checks(result)
    assert checks[REGRESSION_CHECK].passed is False and checks[REGRESSION_CHECK].severity == dg.AssetCheckSeverity.ERROR
    assert checks[SRM_CHECK].passed and checks[STALLED_CHECK].passed


def test_guard_leaves_an_equal_canary_alone(warehouse, resources):
    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(200, 1800))
    result = run_guard(resources)
    [entry] = result.output_for_node(GUARD_OP)
    assert (entry["action"], entry["reason"], entry["performance"]["recommendation"]) == ("none", "within_limits", "promote")
    assert canary_store.load(warehouse, AGENT).canary_percent == 10
    assert audit_rows(warehouse, "rolled_back") == [] and len(audit_rows(warehouse, "guard_check")) == 1
    assert "canaries" not in _materializations(result)
    assert not any(e.passed is False for e in _checks(result).values())
    # asked for an agent without a canary: the run fails and writes nothing
    deploy(warehouse, agent="post_gate", canary=None)
    before = (len(audit_rows(warehouse)), warehouse.scalar("SELECT count(*) FROM canary_checks"))
    assert not run_guard(resources, agent="post_gate").success
    assert (len(audit_rows(warehouse)), warehouse.scalar("SELECT count(*) FROM canary_checks")) == before


@pytest.mark.parametrize(
    "n_canary, n_stable, reason",
    [(300, 700, "sample_ratio_mismatch"), (20, 180, "insufficient_data")],
    ids=["srm", "min_sample"],
)
def test_guard_refuses(warehouse, resources, n_canary, n_stable, reason):
    deploy(warehouse)
    # a drastic regression: refused all the same
    insert_decisions(warehouse, decision_rows(n_canary, n_stable, q_canary=0.4))
    result = run_guard(resources, agent=AGENT, as_of=(DEPLOYED + timedelta(hours=80)).isoformat())
    [entry] = result.output_for_node(GUARD_OP)
    assert (entry["action"], entry["reason"]) == ("refused", reason)
    assert entry["performance"]["recommendation"] == "monitor"
    # 80 hours at monitor: stalled, a manual decision is needed (WARN)
    stalled = _checks(result)[STALLED_CHECK]
    assert stalled.passed is False and stalled.severity == dg.AssetCheckSeverity.WARN and AGENT in stalled.description
    assert canary_store.load(warehouse, AGENT).canary_bundle_id == "b2"
    assert audit_rows(warehouse, "rolled_back") == []
    assert _checks(result)[SRM_CHECK].passed is (reason != "sample_ratio_mismatch")
    # the same check run alone (from the UI) reads the newest look
    alone = canary_sample_ratio(warehouse=resources["warehouse"])
    assert alone.passed is (reason != "sample_ratio_mismatch") and alone.severity == dg.AssetCheckSeverity.WARN


def test_auto_promotion_after_the_hold(warehouse, resources, tmp_path):
    agents = tmp_path / "runtime" / "agents"
    agents.mkdir(parents=True)
    (agents / f"{AGENT}.yaml").write_text("auto_promote: true\n")
    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(200, 1800))
    for hours, expected in ((40, None), (52, None), (65, 50)):
        result = run_guard(resources, as_of=(DEPLOYED + timedelta(hours=hours)).isoformat())
        assert result.output_for_node(GUARD_OP)[0]["auto_promoted_to"] == expected
    dep = canary_store.load(warehouse, AGENT)
    assert dep.canary_percent == 50
    [row] = audit_rows(warehouse, "promoted")
    assert (row["actor"], row["reason"], row["from_percent"], row["to_percent"]) == ("guard", "auto_promotion", 10, 50)


def test_pause_makes_schedule_and_sensor_skip(warehouse, resources):
    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(5, 45))
    with warehouse.transaction() as tx:
        set_paused(tx, paused=True, reason="investigating labels", actor="ops", ran_as="t",
                   at=datetime(2024, 1, 12, tzinfo=timezone.utc))
    with dg.DagsterInstance.ephemeral() as instance:
        when = datetime(2024, 1, 13, 5, tzinfo=timezone.utc)
        with dg.build_schedule_context(resources=resources, instance=instance, scheduled_execution_time=when) as ctx:
            skipped = canary_guard_nightly(ctx)
        assert isinstance(skipped, dg.SkipReason) and "investigating labels" in skipped.skip_message
        with dg.build_sensor_context(resources=resources, instance=instance) as ctx:
            skipped = canary_guard_sensor(ctx)
        assert isinstance(skipped, dg.SkipReason) and "investigating labels" in skipped.skip_message
        with warehouse.transaction() as tx:
            set_paused(tx, paused=False, reason=None, actor="ops", ran_as="t", at=datetime(2024, 1, 12, 1, tzinfo=timezone.utc))
        with dg.build_schedule_context(resources=resources, instance=instance, scheduled_execution_time=when) as ctx:
            request = canary_guard_nightly(ctx)
        assert request.run_key == "guard:2024-01-13T05:00"
        assert request.run_config["ops"][GUARD_OP]["config"]["as_of"].startswith("2024-01-13T05:00:00")


def test_sensor_launches_once_per_new_decisions(warehouse, resources):
    with dg.DagsterInstance.ephemeral() as instance:
        def tick(cursor=None):
            with dg.build_sensor_context(resources=resources, instance=instance, cursor=cursor) as ctx:
                return canary_guard_sensor(ctx)

        assert isinstance(tick(), dg.SkipReason)  # no canary yet
        deploy(warehouse)
        deploy(warehouse, agent="post_gate", canary=None)
        insert_decisions(warehouse, decision_rows(5, 45, loaded_at=datetime(2024, 1, 11)))
        insert_decisions(warehouse, decision_rows(5, 45, agent="post_gate", loaded_at=datetime(2024, 1, 11)))
        first = tick()
        [request] = first.run_requests  # post_gate has no canary: no run
        assert request.run_config == guard_run_config(agent=AGENT)
        again = tick(first.cursor)
        assert not again.run_requests and again.cursor == first.cursor
        insert_decisions(warehouse, decision_rows(1, 9, prefix="n", start=DEPLOYED + timedelta(hours=5),
                                                  loaded_at=datetime(2024, 1, 12)))
        second = tick(first.cursor)
        [request2] = second.run_requests
        assert request2.run_key != request.run_key
        assert json.loads(second.cursor)[AGENT].endswith("|60")
