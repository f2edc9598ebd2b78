"""Deployment state transitions and refusals (SPEC §10–11)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from learning_loop.domain.canaries import (
    CanaryError,
    Deployment,
    apply_bundle,
    hours_running,
    promote,
    rollback,
    route,
)

T0 = datetime(2024, 1, 14, 10, 0, tzinfo=timezone.utc)
AGENT = "inbox_triage"


def stable_dep() -> Deployment:
    dep, action, _ = apply_bundle(Deployment.empty(AGENT), "b1", 100, T0 - timedelta(days=3))
    assert action == "force_promoted"
    return dep


def canary_dep(percent: int = 10) -> Deployment:
    dep, action, details = apply_bundle(stable_dep(), "b2", percent, T0)
    assert action == "applied"
    assert details == {"bundle_id": "b2", "canary_percent": percent, "stable_bundle_id": "b1"}
    return dep


def test_empty_agent_first_bundle_must_be_100() -> None:
    empty = Deployment.empty(AGENT)
    assert empty.status == "empty"
    for percent in (10, 50):
        with pytest.raises(CanaryError, match="no stable bundle yet.*canary percent 100"):
            apply_bundle(empty, "b1", percent, T0)
    dep, action, details = apply_bundle(empty, "b1", 100, T0)
    assert (dep.stable_bundle_id, dep.canary_bundle_id, dep.canary_percent, dep.status) == ("b1", None, 0, "stable")
    assert action == "force_promoted"
    assert details["previous_stable_bundle_id"] is None and details["forced"] is True


def test_apply_canary() -> None:
    dep = canary_dep(10)
    assert dep.status == "canary"
    assert (dep.stable_bundle_id, dep.canary_bundle_id, dep.canary_percent) == ("b1", "b2", 10)
    assert dep.deployed_at == T0 == dep.percent_since == dep.updated_at
    assert dep.active_dict() == {
        "agent": AGENT, "stable_bundle_id": "b1", "canary_bundle_id": "b2", "canary_percent": 10,
    }
    assert canary_dep(50).canary_percent == 50


def test_force_promotion_replaces_stable() -> None:
    dep, action, details = apply_bundle(stable_dep(), "b9", 100, T0)
    assert action == "force_promoted"
    assert (dep.stable_bundle_id, dep.canary_bundle_id, dep.canary_percent) == ("b9", None, 0)
    assert details["previous_stable_bundle_id"] == "b1"


def test_apply_refusals() -> None:
    dep = canary_dep(10)
    for percent in (10, 50, 100):
        with pytest.raises(CanaryError, match="already has a canary"):
            apply_bundle(dep, "b3", percent, T0 + timedelta(hours=1))
    with pytest.raises(CanaryError, match="already the stable bundle"):
        apply_bundle(stable_dep(), "b1", 10, T0)
    for bad in (0, 20, 99, 10.0, True):
        with pytest.raises(CanaryError, match="canary percent must be one of 10\\|50\\|100"):
            apply_bundle(stable_dep(), "b2", bad, T0)  # type: ignore[arg-type]
    with pytest.raises(CanaryError, match="bundle_id"):
        apply_bundle(stable_dep(), "  ", 10, T0)
    with pytest.raises(CanaryError, match="before agent inbox_triage's last deployment change"):
        apply_bundle(stable_dep(), "b2", 10, T0 - timedelta(days=4))


def test_promote_to_50_keeps_deployed_at() -> None:
    at = T0 + timedelta(hours=24)
    dep, action, details = promote(canary_dep(10), 50, at)
    assert action == "promoted"
    assert (dep.canary_bundle_id, dep.canary_percent, dep.deployed_at, dep.percent_since) == ("b2", 50, T0, at)
    assert details["from_percent"] == 10 and details["to_percent"] == 50


def test_promote_to_100_makes_canary_stable() -> None:
    for start in (10, 50):
        dep, action, details = promote(canary_dep(start), 100, T0 + timedelta(hours=48))
        assert action == "promoted"
        assert (dep.stable_bundle_id, dep.canary_bundle_id, dep.canary_percent) == ("b2", None, 0)
        assert dep.deployed_at is None and dep.status == "stable"
        assert details["previous_stable_bundle_id"] == "b1"


def test_promote_refusals() -> None:
    with pytest.raises(CanaryError, match="no active canary to promote"):
        promote(stable_dep(), 50, T0)
    fifty = canary_dep(50)
    with pytest.raises(CanaryError, match="already at 50%; promotion only goes up"):
        promote(fifty, 50, T0 + timedelta(hours=1))
    with pytest.raises(CanaryError, match="target percent must be one of 50\\|100"):
        promote(fifty, 10, T0 + timedelta(hours=1))
    with pytest.raises(CanaryError, match="before"):
        promote(canary_dep(10), 50, T0 - timedelta(seconds=1))


def test_rollback() -> None:
    dep, action, details = rollback(canary_dep(50), T0 + timedelta(hours=5))
    assert action == "rolled_back"
    assert (dep.stable_bundle_id, dep.canary_bundle_id, dep.canary_percent) == ("b1", None, 0)
    assert details["bundle_id"] == "b2" and details["from_percent"] == 50
    with pytest.raises(CanaryError, match="no active canary to roll back"):
        rollback(dep, T0 + timedelta(hours=6))
    # after a rollback a new canary can be applied
    again, action, _ = apply_bundle(dep, "b3", 10, T0 + timedelta(hours=7))
    assert action == "applied" and again.canary_bundle_id == "b3"


def test_transitions_do_not_mutate() -> None:
    dep = canary_dep(10)
    rollback(dep, T0 + timedelta(hours=1))
    promote(dep, 100, T0 + timedelta(hours=1))
    assert (dep.canary_bundle_id, dep.canary_percent) == ("b2", 10)


def test_hours_running() -> None:
    dep = canary_dep(10)
    assert hours_running(dep, T0 + timedelta(hours=25, minutes=30)) == pytest.approx(25.5)
    assert hours_running(dep, T0 - timedelta(hours=2)) == 0.0
    # naive as_of is UTC
    assert hours_running(dep, datetime(2024, 1, 15, 10, 0)) == pytest.approx(24.0)
    assert hours_running(stable_dep(), T0) is None


def test_invalid_states_are_rejected() -> None:
    with pytest.raises(CanaryError, match="agent must match"):
        Deployment.empty("Inbox")
    with pytest.raises(CanaryError, match="no stable bundle"):
        Deployment(AGENT, None, "b2", 10, T0, T0, T0)
    with pytest.raises(CanaryError, match="has no canary"):
        Deployment(AGENT, "b1", None, 10)
    with pytest.raises(CanaryError, match="both stable and canary"):
        Deployment(AGENT, "b1", "b1", 10, T0, T0, T0)


def test_route_uses_the_deployment() -> None:
    dep = canary_dep(10)
    # buckets (see test_routing): k39 -> 0, user-1 -> 62
    assert route(dep, "k39") == ("canary", "b2")
    assert route(dep, "user-1") == ("stable", "b1")
    assert route(Deployment.empty(AGENT), "k39") == ("stable", None)


def test_to_dict_is_json_ready() -> None:
    data = canary_dep(10).to_dict()
    assert data["deployed_at"] == "2024-01-14T10:00:00+00:00" and data["status"] == "canary"


def test_numpy_integers_from_a_table_are_accepted() -> None:
    import numpy as np

    dep = Deployment(AGENT, "b1", "b2", np.int64(10), T0, T0, T0)  # type: ignore[arg-type]
    assert type(dep.canary_percent) is int and dep.canary_percent == 10
    assert promote(dep, np.int64(50), T0 + timedelta(hours=1)).deployment.canary_percent == 50  # type: ignore[arg-type]
