"""Deployment state (`canaries` asset) and the manual canary actions as a Dagster op job (contract §9.5).

`canary_action` promotes (to 50 or 100 %) or rolls back one agent's canary:
the op re-reads the deployment inside its transaction, applies the pure
transition of ``learning_loop.domain.canaries`` and writes the new state with
its audit row (`promoted` / `rolled_back`) in that one transaction, then
reports a materialization of `canaries`. An invalid transition raises, the run
fails and nothing is written. Manual actions work while learning is paused.
"""


from datetime import datetime
from typing import Any, Literal

import dagster as dg

from learning_loop.domain.canaries import Deployment, Transition, promote, rollback
from learning_loop.domain.canaries.errors import CanaryError
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores import audit
from learning_loop.stores import canaries as canary_store
from learning_loop.stores.planning import parse_as_of

GROUP = "canaries"
ACTION_OP = "canary_action_op"

canaries_spec = dg.AssetSpec(
    "canaries",
    group_name=GROUP,
    deps=["approvals"],
    kinds={warehouse_kind()},
    description="Per agent: the stable bundle and at most one canary (bundle, percent, deployed_at). "
    "Changed by approvals apply, canaries promote/rollback and the guard; every change has an audit_log row.",
)


def deployment_metadata(dep: Deployment, action: str, **extra: Any) -> dict[str, Any]:
    """What a materialization of `canaries` shows about one agent's change."""
    return {
        "agent": dep.agent,
        "action": action,
        "stable_bundle_id": dep.stable_bundle_id or "",
        "canary_bundle_id": dep.canary_bundle_id or "",
        "canary_percent": float(dep.canary_percent),
        f"canary_percent/{dep.agent}": float(dep.canary_percent),
        **extra,
    }


def transition_for(action: str, target_percent: int, at: datetime):
    """The pure transition of a manual action (raises CanaryError for an unknown action)."""
    if action == "promote":
        return lambda dep: promote(dep, target_percent, at)
    if action == "rollback":
        return lambda dep: rollback(dep, at)
    raise CanaryError(f"action must be promote or rollback, got {action!r}")


def action_payload(result: Transition, action: str, target_percent: int) -> dict[str, Any]:
    """The command's output: the runbook's `{"status", "canary_percent"}` plus the bundles."""
    dep = result.deployment
    served = target_percent if action == "promote" else 0  # share of traffic now on the acted-on bundle
    return {
        "status": result.action,
        "agent": dep.agent,
        "bundle_id": result.details.get("bundle_id"),
        "canary_percent": served,
        "stable_bundle_id": dep.stable_bundle_id,
        "canary_bundle_id": dep.canary_bundle_id,
    }


class CanaryActionConfig(dg.Config):
    """A manual canary action. `as_of`: ISO-8601 time of the action (empty = now)."""

    agent: str
    action: Literal["promote", "rollback"]
    target_percent: int = 0
    actor: str = ""
    reason: str = ""
    as_of: str = ""


@dg.op(
    name=ACTION_OP,
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The promote/rollback --json output"),
    description="Promote or roll back one agent's canary; state row and audit row in one transaction.",
)
def canary_action_op(context: dg.OpExecutionContext, config: CanaryActionConfig, warehouse: WarehouseResource):
    at = parse_as_of(config.as_of)
    ran_as = audit.ran_as_of_run(context.run.tags)
    actor = config.actor.strip() or ran_as
    reason = config.reason.strip() or ("manual_promotion" if config.action == "promote" else "manual_rollback")
    transition = transition_for(config.action, config.target_percent, at)
    with warehouse.get().transaction() as tx:
        result = canary_store.change(
            tx, config.agent, transition, at=at, actor=actor, ran_as=ran_as, reason=reason, run_id=context.run_id
        )
    payload = action_payload(result, config.action, config.target_percent)
    yield dg.AssetMaterialization(
        asset_key="canaries",
        description=f"{result.action} {config.agent} by {actor}",
        metadata=deployment_metadata(result.deployment, result.action, actor=actor, reason=reason),
    )
    context.log.info(f"{config.agent}: {result.action} ({reason}) by {actor}: {result.details}")
    yield dg.Output({**payload, "run_id": context.run_id})


@dg.job(name="canary_action", description="canaries promote / rollback: change one agent's canary (contract §9.5).")
def canary_action():
    canary_action_op()
