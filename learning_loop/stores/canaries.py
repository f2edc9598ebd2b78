"""Deployment state per agent (`canaries` table, SPEC §11): read, and change through a pure transition.

`change` loads the agent's deployment, applies a transition of
`learning_loop.domain.canaries` (which validates it and names the audit
action), replaces the agent's row and appends the audit row, all inside the
caller's transaction: an invalid transition raises `CanaryError` and changes
nothing.

Also the guard's inputs: the active canaries, their arms' decisions, a per-agent
mark of the decisions (the guard sensor's cursor) and the agent's settings
(`$LEARNING_LOOP_HOME/agents/<agent>.yaml`: guard overrides, `auto_promote`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from learning_loop.domain.active_learning.agents import AgentConfig
from learning_loop.domain.canaries import Deployment, GuardConfig, Transition
from learning_loop.stores import agents, audit
from learning_loop.warehouse.backend import Transaction, Warehouse

_COLUMNS = ("agent", "stable_bundle_id", "canary_bundle_id", "canary_percent", "deployed_at", "percent_since",
            "updated_at")


def _value(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def load(source: Transaction | Warehouse, agent: str) -> Deployment:
    """The agent's deployment (empty when it never had a bundle)."""
    frame = source.query_df(f"SELECT {', '.join(_COLUMNS)} FROM canaries WHERE agent = :a", {"a": agent})
    if frame.empty:
        return Deployment.empty(agent)
    row = {k: _value(v) for k, v in frame.iloc[0].to_dict().items()}
    row["canary_percent"] = int(row["canary_percent"] or 0)
    return Deployment(**row)


def load_all(source: Transaction | Warehouse) -> list[Deployment]:
    frame = source.query_df("SELECT agent FROM canaries ORDER BY agent")
    return [load(source, agent) for agent in frame["agent"]]


def save(tx: Transaction, dep: Deployment) -> None:
    """Replace the agent's row (delete, insert) inside the caller's transaction."""
    tx.execute("DELETE FROM canaries WHERE agent = :a", {"a": dep.agent})
    tx.insert_df("canaries", pd.DataFrame([{k: getattr(dep, k) for k in _COLUMNS}]))


def change(
    tx: Transaction,
    agent: str,
    transition: Callable[[Deployment], Transition],
    *,
    at: datetime,
    actor: str,
    ran_as: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Transition:
    """Apply a transition to the agent's deployment and log it, in the caller's transaction."""
    result = transition(load(tx, agent))
    save(tx, result.deployment)
    audit.append(tx, at=at, agent=agent, action=result.action, actor=actor, ran_as=ran_as, reason=reason,
                 details={**dict(result.details or {}), **dict(details or {})}, run_id=run_id)
    return result


# --------------------------------------------------------------------------- issue 10: guard inputs


def active(source: Transaction | Warehouse, agent: str | None = None) -> list[Deployment]:
    """Deployments with an active canary (one agent's, or every agent's in name order)."""
    deployments = [load(source, agent)] if agent else load_all(source)
    return [d for d in deployments if d.has_canary]


def decisions(source: Transaction | Warehouse, dep: Deployment, before: datetime) -> pd.DataFrame:
    """The canary's arms' decisions: the agent's decisions under the canary or the stable bundle with
    ``deployed_at <= decided_at < before`` (columns bundle_id, decided_at, quality, latency_ms)."""
    columns = ["bundle_id", "decided_at", "quality", "latency_ms"]
    if not dep.has_canary:
        return pd.DataFrame(columns=columns)
    return source.query_df(
        "SELECT bundle_id, decided_at, quality, latency_ms FROM decisions WHERE agent = :a "
        "AND bundle_id IN (:canary, :stable) AND decided_at >= :since AND decided_at < :before "
        "ORDER BY decided_at, decision_id",
        {"a": dep.agent, "canary": dep.canary_bundle_id, "stable": dep.stable_bundle_id,
         "since": dep.deployed_at, "before": before},
    )


def decision_marks(source: Transaction | Warehouse, agents: list[str]) -> dict[str, str]:
    """Per agent, a mark that changes whenever its decisions change: ``<latest loaded_at>|<latest
    decided_at>|<count>`` (what the guard sensor keeps in its cursor). Agents without decisions are left out."""
    if not agents:
        return {}
    names = {f"a{i}": agent for i, agent in enumerate(agents)}
    frame = source.query_df(
        "SELECT agent, max(loaded_at) AS loaded, max(decided_at) AS decided, count(*) AS n FROM decisions "
        f"WHERE agent IN ({', '.join(':' + k for k in names)}) GROUP BY agent",
        names,
    )
    marks = {}
    for row in frame.itertuples(index=False):
        loaded = "" if pd.isna(row.loaded) else pd.Timestamp(row.loaded).isoformat()
        decided = "" if pd.isna(row.decided) else pd.Timestamp(row.decided).isoformat()
        marks[str(row.agent)] = f"{loaded}|{decided}|{int(row.n)}"
    return marks


def agent_config(home: str | Path, agent: str) -> AgentConfig:
    """``$LEARNING_LOOP_HOME/agents/<agent>.yaml`` (defaults without a file; see ``stores.agents``)."""
    return agents.agent_config(home, agent)


def guard_config(base: GuardConfig, agent_cfg: AgentConfig) -> GuardConfig:
    """The guard rules of one agent: its file's ``guard:`` overrides on top of ``base``."""
    overrides: dict[str, Any] = {}
    settings = agent_cfg.guard
    if settings.max_quality_drop is not None:
        overrides["max_quality_drop"] = settings.max_quality_drop
    if settings.max_latency_rise is not None:
        overrides["max_latency_rise"] = settings.max_latency_rise
    if settings.alpha is not None:
        overrides["level"] = 1.0 - settings.alpha
    if settings.min_decisions_per_arm is not None:
        overrides["min_decisions_per_arm"] = settings.min_decisions_per_arm
    return replace(base, **overrides) if overrides else base
