"""Read-only views of bundles, approvals, the audit log and the pause state (SPEC §10, §12)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.pause import PauseState, skip_reason
from learning_loop.domain.active_learning.prompt_bundles import is_prompt_bundle
from learning_loop.stores import approvals as approval_store
from learning_loop.stores import audit
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import learning_state
from learning_loop.stores.agents import known_agents
from learning_loop.warehouse.backend import Warehouse

#: `logs --action` spellings of the runbook mapped to the stored action names.
ACTION_ALIASES = {"rollback": "rolled_back", "promote": "promoted", "force_promote": "force_promoted"}


class UnknownAgent(ValueError):
    """An agent without labels, bundles or configuration file."""


def require_agent(wh: Warehouse, agent: str, home: str | Path) -> None:
    if agent not in known_agents(wh, home) and canary_store.load(wh, agent).stable_bundle_id is None:
        raise UnknownAgent(f"unknown agent {agent!r} (no labels, bundles or agents/{agent}.yaml)")


def bundle_view(wh: Warehouse, bundle_id: str) -> dict[str, Any]:
    """`bundles show ID`: the stored bundle (without the model), plus its features and held-out count;
    for a prompt bundle also `system_prompt`, `variant`, `training_run_id`, `accuracy_metric` (token_f1),
    `scores`, `current_scores` and `vs_current` from its training run."""
    values = bundle_store.row(wh, bundle_id)
    if values is None:
        raise bundle_store.UnknownBundle(f"unknown bundle {bundle_id!r}")
    bundle = bundle_store.require(wh, bundle_id)
    dep = canary_store.load(wh, bundle.agent)
    role = "stable" if dep.stable_bundle_id == bundle_id else "canary" if dep.canary_bundle_id == bundle_id else None
    view = {**values, "features": list(bundle.features), "holdout_count": len(bundle.holdout_ids), "deployed_as": role}
    if is_prompt_bundle(bundle):  # prompt bundles: the prompt and where it comes from ("accuracy" is token-F1)
        snap = bundle.snapshot
        view.update({key: snap.get(key) for key in (
            "system_prompt", "variant", "training_run_id", "accuracy_metric", "scores", "current_scores", "vs_current")})
    return view


def active_view(wh: Warehouse, agent: str, home: str | Path) -> dict[str, Any]:
    """`bundles active --agent A`: `{"agent", "stable_bundle_id", "canary_bundle_id", "canary_percent"}`."""
    require_agent(wh, agent, home)
    return canary_store.load(wh, agent).active_dict()


def diff_view(wh: Warehouse, bundle_id: str) -> dict[str, Any]:
    """`bundles diff ID`: `{"changes": [...], "accuracy_delta"}` against the agent's stable bundle."""
    return bundle_store.diff(wh, bundle_store.require(wh, bundle_id))


def approval_view(wh: Warehouse, approval_id: str) -> dict[str, Any]:
    return approval_store.to_json(approval_store.load(wh, approval_id))


def pending_view(wh: Warehouse) -> list[dict[str, Any]]:
    """Pending approvals, oldest first (the order to review them)."""
    items = approval_store.listing(wh, status="pending")
    return [approval_store.to_json(a) for a in reversed(items)]


def recent_view(wh: Warehouse, hours: float = 48, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Approvals created, decided or applied in the `hours` before as_of, newest first."""
    return [approval_store.to_json(a) for a in approval_store.listing(wh, hours=hours, as_of=as_of)]


def normalise_action(action: str | None) -> str | None:
    if not action:
        return None
    return ACTION_ALIASES.get(action, action)


def logs_view(
    wh: Warehouse, *, action: str | None = None, agent: str | None = None, hours: float | None = None,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """`logs`: audit rows newest first, `{"timestamp", "agent", "action", "actor", "ran_as", "reason", ...details}`."""
    return audit.entries(wh, action=normalise_action(action), agent=agent, hours=hours, as_of=as_of)


def state_json(state: PauseState) -> dict[str, Any]:
    """`pause`/`resume` output: `{"paused", "reason", "actor", "at"}`."""
    return {
        "paused": state.paused,
        "reason": state.reason,
        "actor": state.actor,
        "at": None if state.at is None else f"{utc_naive(state.at).isoformat()}Z",
    }


def learning_state_view(wh: Warehouse) -> dict[str, Any]:
    state = learning_state.current(wh)
    return {**state_json(state), "skip_reason": skip_reason(state)}
