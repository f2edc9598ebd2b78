"""Read-only views of canaries, routing and judge weights (SPEC §11–12), JSON-ready.

The views compute a canary's performance with the same domain function the
guard job uses (``learning_loop.domain.canaries.canary_performance``), with
the same per-agent rules (``$LEARNING_LOOP_HOME/agents/<agent>.yaml``), so
``canaries active``, ``canaries performance`` and ``canaries check`` never
disagree. ``as_of`` limits the decisions to those made before it; the
deployment state is the current one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from learning_loop.domain.canaries import CanaryError, CanaryPerformance, Deployment, GuardConfig, canary_performance
from learning_loop.domain.canaries import route as route_of
from learning_loop.domain.canaries.deployment import AGENT_PATTERN
from learning_loop.domain.judges import weights_mapping
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import judges as judge_store
from learning_loop.views.common import plain
from learning_loop.warehouse.backend import Transaction, Warehouse


def check_agent(agent: str) -> str:
    """The agent name, or a one-line CanaryError."""
    if not isinstance(agent, str) or not AGENT_PATTERN.fullmatch(agent):
        raise CanaryError(f"agent must match [a-z][a-z0-9_]*, got {agent!r}")
    return agent


def performance_of(
    source: Transaction | Warehouse, dep: Deployment, as_of: datetime, home: str | Path, base: GuardConfig | None = None
) -> CanaryPerformance:
    """The canary's performance as of ``as_of`` under the agent's guard rules."""
    config = canary_store.guard_config(base or GuardConfig(), canary_store.agent_config(home, dep.agent))
    return canary_performance(canary_store.decisions(source, dep, as_of), dep, as_of, config)


def _entry(perf: CanaryPerformance) -> dict[str, Any]:
    entry = perf.active_dict()
    entry["stalled"] = perf.stalled
    return _plain(entry)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return plain(value)


def route_view(wh: Warehouse, agent: str, key: str) -> dict[str, Any]:
    """SPEC §11 ``route``: ``{"arm", "bundle_id"}`` of request ``key`` (bundle_id null: nothing deployed)."""
    arm, bundle_id = route_of(canary_store.load(wh, check_agent(agent)), key)
    return {"arm": arm, "bundle_id": bundle_id}


def active_view(wh: Warehouse, as_of: datetime, home: str | Path) -> list[dict[str, Any]]:
    """SPEC §11 ``canaries active``: one entry per active canary (agent order), plus ``stalled``."""
    return [_entry(performance_of(wh, dep, as_of, home)) for dep in canary_store.active(wh)]


def performance_view(wh: Warehouse, agent: str, as_of: datetime, home: str | Path) -> dict[str, Any]:
    """One canary's entry of ``active`` plus ``stable_bundle_id`` and, on top, ``recommendation``."""
    dep = canary_store.load(wh, check_agent(agent))
    if not dep.has_canary:
        raise CanaryError(f"agent {agent} has no active canary")
    perf = performance_of(wh, dep, as_of, home)
    entry = _entry(perf)
    entry["stable_bundle_id"] = perf.stable_bundle_id
    entry["recommendation"] = perf.recommendation
    return entry


def weights_view(wh: Warehouse, as_of: datetime | None = None) -> dict[str, dict[str, float]]:
    """SPEC §12 ``weights``: ``{agent: {judge: weight}}`` of the newest partition complete at ``as_of``."""
    _, frame = judge_store.latest(wh, as_of)
    return weights_mapping(frame)


def weights_detail(wh: Warehouse, as_of: datetime | None = None) -> dict[str, Any]:
    """The newest partition with how each weight was reached (for the text output)."""
    day, frame = judge_store.latest(wh, as_of)
    rows = [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return {"partition_date": day.isoformat() if day else None, "rows": rows}
