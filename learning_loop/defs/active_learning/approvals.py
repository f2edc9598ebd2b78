"""The approval_action op job (propose, approve, reject, apply; contract §9.3–9.4), the `approvals` asset and its check.

Every approval state change is one run of `approval_action`: the op writes the
approval row, the deployment (for apply) and the audit rows in one
transaction. After each change the op reports the `pending_approvals` check
(WARN above 5 pending, runbook "Pending approvals >5"); the same check can
be run on its own from the UI.
"""


from typing import Any, Literal

import dagster as dg

from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import approvals as approval_store
from learning_loop.stores.audit import ran_as_of_run
from learning_loop.stores.planning import parse_as_of
from learning_loop.warehouse.backend import Transaction, Warehouse

GROUP = "active_learning"
PENDING_CHECK = "pending_approvals"

approvals_spec = dg.AssetSpec(
    "approvals",
    group_name=GROUP,
    deps=["bundles"],
    kinds={warehouse_kind()},
    description="Bundle approvals (pending → approved/rejected → applied) with diff and recommendation.",
)


def pending_check_evaluation(source: Transaction | Warehouse) -> dg.AssetCheckEvaluation:
    """The pending_approvals check as an event an op can yield."""
    pending = approval_store.pending_count(source)
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("approvals"),
        check_name=PENDING_CHECK,
        passed=pending <= approval_store.MAX_PENDING,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pending": float(pending), "limit": float(approval_store.MAX_PENDING)},
        description=f"{pending} pending approval(s) (WARN above {approval_store.MAX_PENDING})",
    )


def approvals_materialization(source: Transaction | Warehouse, **metadata: Any) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key="approvals",
        metadata={"pending": float(approval_store.pending_count(source)), **metadata},
    )


@dg.asset_check(
    asset="approvals",
    name=PENDING_CHECK,
    description=f"WARN: more than {approval_store.MAX_PENDING} approvals wait for a decision (runbook alert).",
    pool=WAREHOUSE_POOL,
)
def pending_approvals(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    pending = approval_store.pending_count(warehouse.get())
    return dg.AssetCheckResult(
        passed=pending <= approval_store.MAX_PENDING,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pending": float(pending), "limit": float(approval_store.MAX_PENDING)},
    )


class ApprovalActionConfig(dg.Config):
    """One approval command. `actor`: the proposer, approver, rejector or (apply) the operator
    (default: the approver)."""

    action: Literal["propose", "approve", "reject", "apply"]
    approval_id: str = ""
    agent: str = ""
    bundle_id: str = ""
    actor: str = ""
    rationale: str = ""
    canary_percent: int = 0
    as_of: str = ""  # ISO-8601; empty = now (UTC)


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The command's --json output"),
    description="Propose, approve, reject or apply a bundle approval (contract §9.3–9.4), with its audit rows.",
)
def approval_action_op(
    context: dg.OpExecutionContext, config: ApprovalActionConfig, warehouse: WarehouseResource,
    runtime: RuntimeResource,
):
    at = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    wh = warehouse.get()
    deployment = None
    with wh.transaction() as tx:
        if config.action == "propose":
            approval = approval_store.propose(
                tx, agent=config.agent, bundle_id=config.bundle_id, proposer=config.actor, ran_as=ran_as, at=at,
                home=runtime.home, run_id=context.run_id,
            )
            payload: dict[str, Any] = {"approval_id": approval.approval_id}
        elif config.action in ("approve", "reject"):
            decision = approval_store.decide(
                tx, config.approval_id, action=config.action, who=config.actor, rationale=config.rationale,
                ran_as=ran_as, at=at, allow_same_operator=runtime.allow_same_operator_approval, run_id=context.run_id,
            )
            approval = decision.approval
            payload = approval_store.to_json(approval)
            if decision.same_operator_override:
                context.log.warning(
                    f"{approval.approval_id} approved from the same OS identity ({ran_as}) as its proposal: "
                    "LEARNING_LOOP_ALLOW_SAME_OPERATOR_APPROVAL is on"
                )
        else:
            approval, transition = approval_store.apply(
                tx, config.approval_id, canary_percent=config.canary_percent, at=at, actor=config.actor,
                ran_as=ran_as, run_id=context.run_id,
            )
            deployment = transition.deployment
            forced = transition.action == "force_promoted"
            payload = {
                "status": "force_promoted" if forced else "deployed",
                "approval_id": approval.approval_id,
                "agent": approval.agent,
                "bundle_id": approval.bundle_id,
                "canary_percent": config.canary_percent,
                "forced": forced,
                "deployment": deployment.active_dict(),
            }
            if forced:
                context.log.warning(
                    f"forced promotion: {approval.bundle_id} is now the stable bundle of {approval.agent}, "
                    "the canary was skipped"
                )
        events = [
            approvals_materialization(
                tx, approval_id=approval.approval_id, agent=approval.agent, bundle_id=approval.bundle_id,
                status=approval.status, action=config.action,
            ),
            pending_check_evaluation(tx),
        ]
    yield from events  # after the commit
    if deployment is not None:
        yield dg.AssetMaterialization(
            asset_key="canaries",
            metadata={"agent": deployment.agent, "stable_bundle_id": deployment.stable_bundle_id or "",
                      "canary_bundle_id": deployment.canary_bundle_id or "",
                      "canary_percent": float(deployment.canary_percent)},
        )
    context.log.info(f"{config.action} {approval.approval_id}: {approval.status} ({approval.agent}/{approval.bundle_id})")
    yield dg.Output(payload)


@dg.job(
    name="approval_action",
    description="approvals propose|approve|reject|apply: one approval state change with its audit rows.",
)
def approval_action():
    approval_action_op()
