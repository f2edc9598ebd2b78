"""A canary's performance from its decisions: arms, deltas, SRM window, hours, stall, views."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.canaries import (
    CanaryError,
    Deployment,
    GuardConfig,
    apply_bundle,
    canary_performance,
    guard_decision,
    promote,
)

T0 = datetime(2024, 1, 14, 10, 0, tzinfo=timezone.utc)
AGENT = "inbox_triage"


def deployment(percent: int = 10) -> Deployment:
    dep, _, _ = apply_bundle(Deployment.empty(AGENT), "stable_b", 100, T0 - timedelta(days=10))
    dep, _, _ = apply_bundle(dep, "canary_b", percent, T0)
    return dep


def rows(bundle: str, start: datetime, n: int, quality: float, latency: float, agent: str = AGENT,
         step: timedelta = timedelta(seconds=30)) -> list[dict]:
    return [
        {"agent": agent, "bundle_id": bundle, "decided_at": start + i * step, "quality": quality,
         "latency_ms": latency}
        for i in range(n)
    ]


def test_arms_and_deltas_from_decisions() -> None:
    as_of = T0 + timedelta(hours=10)
    data = (
        rows("canary_b", T0, 100, 0.72, 900.0)
        + rows("stable_b", T0, 900, 0.80, 750.0)
        + rows("canary_b", T0 - timedelta(hours=1), 30, 0.0, 1.0)  # before deployment
        + rows("stable_b", as_of, 30, 0.0, 1.0)  # at as_of: not yet seen
        + rows("other_b", T0, 30, 0.0, 1.0)  # another bundle
        + rows("canary_b", T0, 30, 0.0, 1.0, agent="post_gate")  # another agent
    )
    perf = canary_performance(pd.DataFrame(data), deployment(), as_of, GuardConfig())
    assert (perf.n_canary, perf.n_stable) == (100, 900)
    assert perf.quality_delta == pytest.approx(0.72 / 0.80 - 1)
    assert perf.latency_delta == pytest.approx(900 / 750 - 1)
    assert perf.hours_running == pytest.approx(10.0)
    out = perf.to_dict()
    assert list(out)[:5] == ["quality_delta", "latency_delta", "n_canary", "n_stable", "recommendation"]
    assert out["recommendation"] == perf.recommendation
    assert out["guard_action"] == "rollback"  # constant arms: both regressions are certain
    assert perf.decision.reason == "quality_regression"
    assert perf.recommendation == "rollback"


def test_timestamps_as_strings_and_no_agent_column() -> None:
    data = pd.DataFrame(rows("canary_b", T0, 60, 0.8, 800) + rows("stable_b", T0, 540, 0.8, 800)).drop(
        columns="agent"
    )
    data["decided_at"] = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in data["decided_at"]]  # naive = UTC
    perf = canary_performance(data, deployment(), T0 + timedelta(days=1))
    assert (perf.n_canary, perf.n_stable) == (60, 540)
    assert perf.quality_delta == pytest.approx(0.0, abs=1e-12) and perf.latency_delta == pytest.approx(0.0, abs=1e-12)


def test_guard_accepts_the_performance_and_agrees() -> None:
    rng = np.random.default_rng(5)
    n_c, n_s = 300, 2700
    data = pd.DataFrame({
        "bundle_id": ["canary_b"] * n_c + ["stable_b"] * n_s,
        "decided_at": [T0 + timedelta(minutes=i) for i in range(n_c + n_s)],
        "quality": np.r_[rng.beta(8, 2, n_c), rng.beta(8, 2, n_s)],
        "latency_ms": rng.lognormal(6.6, 0.5, n_c + n_s),
    })
    perf = canary_performance(data, deployment(), T0 + timedelta(days=3))
    again = guard_decision(perf, GuardConfig())
    assert (again.action, again.reason) == (perf.decision.action, perf.decision.reason) == ("none", "within_limits")
    check = perf.check_dict()
    assert set(check) == {"agent", "action", "reason", "performance"} and check["action"] == "none"
    active = perf.active_dict()
    assert active["bundle_id"] == "canary_b" and active["deployed_at"] == T0.isoformat()
    assert set(active) == {"agent", "bundle_id", "canary_percent", "deployed_at", "hours_running", "performance"}
    json.dumps([check, active, perf.decision.to_dict()], allow_nan=False)  # JSON-ready for the CLI and audit log


def test_stalled_after_72_hours_of_monitor() -> None:
    data = pd.DataFrame(rows("canary_b", T0, 20, 0.8, 800) + rows("stable_b", T0, 180, 0.8, 800))
    early = canary_performance(data, deployment(), T0 + timedelta(hours=72))
    late = canary_performance(data, deployment(), T0 + timedelta(hours=73))
    assert early.recommendation == late.recommendation == "monitor"  # too few decisions to judge
    assert late.decision.reason == "insufficient_data"
    assert (early.stalled, late.stalled) == (False, True)
    assert late.to_dict()["stalled"] is True
    assert not canary_performance(data, deployment(), T0 + timedelta(hours=73), GuardConfig(stall_hours=100)).stalled


def test_srm_counts_only_since_the_current_percent() -> None:
    # 10 % for a day (100 / 900), then 50 % (500 / 500): overall share 0.3 would be a mismatch against 50 %
    dep = deployment(10)
    dep, _, _ = promote(dep, 50, T0 + timedelta(days=1))
    later = T0 + timedelta(days=1)
    data = pd.DataFrame(
        rows("canary_b", T0, 100, 0.8, 800) + rows("stable_b", T0, 900, 0.8, 800)
        + rows("canary_b", later, 500, 0.8, 800) + rows("stable_b", later, 500, 0.8, 800)
    )
    perf = canary_performance(data, dep, T0 + timedelta(days=2))
    assert (perf.n_canary, perf.n_stable) == (600, 1400)  # arms start at deployed_at
    assert (perf.arms.srm_n_canary, perf.arms.srm_n_stable) == (500, 500)
    assert not perf.comparison.srm_alarm and perf.decision.action == "none"


def test_sample_ratio_mismatch_in_performance() -> None:
    data = pd.DataFrame(rows("canary_b", T0, 200, 0.8, 800) + rows("stable_b", T0, 800, 0.8, 800))
    perf = canary_performance(data, deployment(10), T0 + timedelta(days=1))
    assert perf.comparison.srm_alarm and perf.decision.reason == "sample_ratio_mismatch"
    assert perf.to_dict()["canary_share"] == pytest.approx(0.2)
    assert perf.recommendation == "monitor"


def test_needs_an_active_canary_and_the_columns() -> None:
    dep, _, _ = apply_bundle(Deployment.empty(AGENT), "stable_b", 100, T0)
    with pytest.raises(CanaryError, match="has no active canary"):
        canary_performance(pd.DataFrame(rows("stable_b", T0, 5, 0.8, 1)), dep, T0 + timedelta(days=1))
    with pytest.raises(CanaryError, match="lack column\\(s\\) latency_ms"):
        canary_performance(pd.DataFrame({"bundle_id": [], "decided_at": [], "quality": []}), deployment(), T0)


def test_empty_decisions() -> None:
    empty = pd.DataFrame({"bundle_id": [], "decided_at": [], "quality": [], "latency_ms": []})
    perf = canary_performance(empty, deployment(), T0 + timedelta(hours=1))
    assert (perf.n_canary, perf.n_stable, perf.quality_delta) == (0, 0, None)
    assert perf.decision.reason == "insufficient_data" and perf.recommendation == "monitor"
