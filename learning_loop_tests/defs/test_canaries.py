"""Deployment state, the canary store and the canary views (SPEC §11) on both backends.

Also the helpers the guard, CLI and judge-weight tests share: a deployment
made directly through `stores.canaries.change` (first bundle at 100 → stable,
then a canary) and seeded decisions inserted straight into `decisions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from learning_loop.defs.canaries.deployments import ACTION_OP, canary_action
from learning_loop.domain.canaries import CanaryError, apply_bundle
from learning_loop.stores import audit
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import canary_checks as check_store
from learning_loop.views.canaries import active_view, performance_view, route_view

AGENT = "inbox_triage"
T0 = datetime(2024, 1, 10, tzinfo=timezone.utc)
DEPLOYED = T0 + timedelta(hours=1)


def deploy(wh, agent: str = AGENT, stable: str = "b1", canary: str | None = "b2", percent: int = 10,
           at: datetime = DEPLOYED) -> None:
    """A stable bundle (applied at 100 at T0) and, unless canary is None, a canary at `percent` from `at`."""
    with wh.transaction() as tx:
        canary_store.change(tx, agent, lambda d: apply_bundle(d, stable, 100, T0), at=T0, actor="ops", ran_as="test")
        if canary:
            canary_store.change(tx, agent, lambda d: apply_bundle(d, canary, percent, at), at=at, actor="ops",
                                ran_as="test")


def decision_rows(n_canary: int, n_stable: int, *, agent: str = AGENT, start: datetime = DEPLOYED + timedelta(minutes=1),
                  q_canary: float = 0.8, q_stable: float = 0.8, lat_canary: float = 800.0, lat_stable: float = 800.0,
                  seed: int = 0, canary: str = "b2", stable: str = "b1", prefix: str = "d",
                  loaded_at: datetime | None = None) -> pd.DataFrame:
    """Seeded decisions, canary ones spread evenly among stable ones, one a minute from `start`."""
    rng = np.random.default_rng(seed)
    total = n_canary + n_stable
    is_canary = np.zeros(total, dtype=bool)
    if n_canary:
        is_canary[np.linspace(0, total - 1, n_canary).round().astype(int)] = True
    quality = np.where(is_canary, q_canary, q_stable) + rng.normal(0, 0.1, total)
    latency = np.where(is_canary, lat_canary, lat_stable) * rng.lognormal(-0.02, 0.2, total)
    return pd.DataFrame({
        "agent": agent,
        "decision_id": [f"{prefix}{i}" for i in range(total)],
        "bundle_id": np.where(is_canary, canary, stable),
        "decided_at": [start + timedelta(minutes=i) for i in range(total)],
        "quality": np.clip(quality, 0, 1),
        "latency_ms": latency,
        "loaded_at": loaded_at or start + timedelta(days=1),
    })


def insert_decisions(wh, frame: pd.DataFrame) -> None:
    with wh.transaction() as tx:
        tx.insert_df("decisions", frame)


def audit_rows(wh, action: str | None = None) -> list[dict]:
    return list(reversed(audit.entries(wh, action=action)))


# --------------------------------------------------------------------------- store


def test_store_active_decisions_and_marks(warehouse):
    assert canary_store.active(warehouse) == []
    deploy(warehouse)
    deploy(warehouse, agent="post_gate", canary=None)
    assert [d.agent for d in canary_store.active(warehouse)] == [AGENT]
    frame = decision_rows(5, 45)
    other = decision_rows(3, 3, canary="b9", prefix="x", start=DEPLOYED + timedelta(days=2))  # b9: not an arm
    early = decision_rows(0, 4, start=T0, prefix="e")  # before the canary was deployed
    insert_decisions(warehouse, pd.concat([frame, other, early]))
    dep = canary_store.load(warehouse, AGENT)
    got = canary_store.decisions(warehouse, dep, DEPLOYED + timedelta(days=5))
    assert len(got) == 50 + 3  # b9 rows dropped, stable rows of `other` kept
    assert len(canary_store.decisions(warehouse, dep, DEPLOYED + timedelta(minutes=11))) == 10
    marks = canary_store.decision_marks(warehouse, [AGENT, "post_gate"])
    assert set(marks) == {AGENT} and marks[AGENT].endswith("|60")


def test_agent_guard_settings(tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / f"{AGENT}.yaml").write_text("auto_promote: true\nguard:\n  alpha: 0.05\n  max_quality_drop: 0.1\n")
    cfg = canary_store.agent_config(tmp_path, AGENT)
    assert cfg.auto_promote is True
    rules = canary_store.guard_config(canary_store.GuardConfig(), cfg)
    assert rules.level == pytest.approx(0.95) and rules.max_quality_drop == 0.1 and rules.max_latency_rise == 0.10
    assert canary_store.agent_config(tmp_path, "post_gate").auto_promote is False


# --------------------------------------------------------------------------- views


def test_route_view_follows_the_deployment(warehouse):
    assert route_view(warehouse, AGENT, "k") == {"arm": "stable", "bundle_id": None}
    deploy(warehouse, percent=50)
    arms = {route_view(warehouse, AGENT, f"k{i}")["arm"] for i in range(40)}
    assert arms == {"canary", "stable"}
    with pytest.raises(CanaryError, match="agent must match"):
        route_view(warehouse, "Bad Agent", "k")
    deploy(warehouse, agent="post_gate", canary=None)
    with pytest.raises(CanaryError, match="no active canary"):
        performance_view(warehouse, "post_gate", T0 + timedelta(days=1), ".")


def test_hours_running_and_stalled(warehouse, tmp_path):
    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(10, 90))  # below the minimum sample: the guard refuses → monitor
    early = active_view(warehouse, DEPLOYED + timedelta(hours=25), tmp_path)
    assert len(early) == 1
    entry = early[0]
    assert set(entry) >= {"agent", "bundle_id", "canary_percent", "deployed_at", "hours_running", "performance", "stalled"}
    assert set(entry["performance"]) >= {"quality_delta", "latency_delta", "n_canary", "n_stable", "recommendation"}
    assert entry["hours_running"] == pytest.approx(25.0)
    assert entry["deployed_at"].startswith("2024-01-10T01:00:00")
    assert (entry["performance"]["recommendation"], entry["stalled"]) == ("monitor", False)
    assert entry["performance"]["guard_reason"] == "insufficient_data"
    late = active_view(warehouse, DEPLOYED + timedelta(hours=80), tmp_path)[0]
    assert late["hours_running"] == pytest.approx(80.0) and late["stalled"] is True
    # as_of limits the decisions: 30 minutes in, only 30 of them count
    part = performance_view(warehouse, AGENT, DEPLOYED + timedelta(minutes=31), tmp_path)["performance"]
    assert part["n_canary"] + part["n_stable"] == 30


# --------------------------------------------------------------------------- canary_action job


def _act(resources, **config):
    return canary_action.execute_in_process(
        run_config={"ops": {ACTION_OP: {"config": config}}}, resources=resources,
        instance=dg.DagsterInstance.ephemeral(), tags={audit.RAN_AS_TAG: "tester@host"}, raise_on_error=False,
    )


def test_canary_action_promote_and_refusal(warehouse, resources):
    deploy(warehouse)
    at = (DEPLOYED + timedelta(days=1)).isoformat()
    result = _act(resources, agent=AGENT, action="promote", target_percent=50, actor="lead", as_of=at)
    assert result.success
    out = result.output_for_node(ACTION_OP)
    assert (out["status"], out["canary_percent"], out["bundle_id"]) == ("promoted", 50, "b2")
    mats = [e.step_materialization_data.materialization for e in result.all_events if e.is_step_materialization]
    assert [m.asset_key.to_user_string() for m in mats] == ["canaries"]
    assert mats[0].metadata["canary_percent"].value == 50.0
    row = audit_rows(warehouse, "promoted")[-1]
    assert (row["actor"], row["ran_as"], row["from_percent"], row["to_percent"]) == ("lead", "tester@host", 10, 50)
    before = len(audit_rows(warehouse))
    failed = _act(resources, agent=AGENT, action="promote", target_percent=50, as_of=at)  # not upward
    assert not failed.success
    assert len(audit_rows(warehouse)) == before
    assert canary_store.load(warehouse, AGENT).canary_percent == 50


def test_canary_checks_store_latest_and_looks(warehouse, tmp_path):
    from learning_loop.views.canaries import performance_of

    deploy(warehouse)
    insert_decisions(warehouse, decision_rows(200, 1800))  # equal arms, enough to recommend promote
    dep = canary_store.load(warehouse, AGENT)
    with warehouse.transaction() as tx:
        for hours in (40, 50):
            at = DEPLOYED + timedelta(hours=hours)
            check_store.record(tx, performance_of(tx, dep, at, tmp_path), checked_at=at, run_id=f"r{hours}")
    latest = check_store.latest(warehouse)
    assert list(latest["run_id"]) == ["r50"] and int(latest["n_canary"].iloc[0]) == 200
    looks = check_store.looks(warehouse, dep)
    assert [r for _, r in looks] == ["promote", "promote"]
    assert len(check_store.looks(warehouse, dep, before=DEPLOYED + timedelta(hours=45))) == 1
