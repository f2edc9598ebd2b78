"""set_learning_state (pause/resume) on both backends: state, audit rows, refusals."""

from __future__ import annotations

from learning_loop.stores import audit, learning_state
from learning_loop_tests.bundle_helpers import counts, failure_message, run


def _state(paused: bool, as_of: str, reason: str = "", actor: str = "ops"):
    return run("set_learning_state", "set_learning_state_op",
               {"paused": paused, "reason": reason, "actor": actor, "as_of": as_of})


def test_pause_and_resume(runtime, warehouse):
    assert learning_state.pause_reason(warehouse) is None
    result = _state(True, "2024-01-10T09:00:00Z", reason="Investigating data quality issues")
    assert result.success, failure_message(result)
    assert result.output_for_node("set_learning_state_op") == {
        "paused": True, "reason": "Investigating data quality issues", "actor": "ops", "at": "2024-01-10T09:00:00Z"}
    (mat,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.asset_key.to_user_string() == "learning_state" and mat.metadata["paused"].value == 1.0
    assert "Investigating data quality issues" in learning_state.pause_reason(warehouse)
    result = _state(False, "2024-01-10T12:00:00Z", actor="lead")
    assert result.success, failure_message(result)
    assert learning_state.pause_reason(warehouse) is None
    entries = audit.entries(warehouse)
    assert [(e["action"], e["actor"], e["reason"]) for e in entries] == [
        ("resumed", "lead", None), ("paused", "ops", "Investigating data quality issues")]


def test_refusals_change_nothing(runtime, warehouse):
    before = counts(warehouse)
    for result, message in (
        (_state(False, "2024-01-10T09:00:00Z"), "not paused"),
        (_state(True, "2024-01-10T09:00:00Z", reason="  "), "non-empty --reason"),
    ):
        assert not result.success and message in failure_message(result)
    assert counts(warehouse) == before
    assert _state(True, "2024-01-10T09:00:00Z", reason="x").success
    before = counts(warehouse)
    for result, message in (
        (_state(True, "2024-01-10T10:00:00Z", reason="y"), "already paused"),
        (_state(False, "2024-01-10T08:00:00Z"), "before the last pause/resume"),
    ):
        assert not result.success and message in failure_message(result)
    assert counts(warehouse) == before
