"""Pause and resume of active learning (contract §9.6–9.8) as the op job `set_learning_state`, and its asset.

While paused, the schedules and sensors of the feeds, bundle training, judge
weights and the guard skip with the reason (`stores.learning_state.pause_reason`);
manual approvals, promotions and rollbacks keep working.
"""


from datetime import datetime

import dagster as dg

from learning_loop.domain.active_learning.examples import utc_naive
from learning_loop.domain.active_learning.pause import PauseError, PauseState, skip_reason
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores import learning_state
from learning_loop.stores.audit import ran_as_of_run
from learning_loop.stores.planning import parse_as_of
from learning_loop.views.bundles import state_json
from learning_loop.warehouse.backend import Transaction, Warehouse

learning_state_spec = dg.AssetSpec(
    "learning_state",
    group_name="active_learning",
    kinds={warehouse_kind()},
    description="Whether active learning is paused (who, when, why); the newest row is the current state.",
)


def check_change(source: Transaction | Warehouse, *, paused: bool, at: datetime) -> PauseState:
    """Refuse a pause while paused, a resume while running, and a time before the last change.
    Returns the current state."""
    state = learning_state.current(source)
    if paused and state.paused:
        raise PauseError(f"learning is already paused ({skip_reason(state)}); resume first")
    if not paused and not state.paused:
        raise PauseError("learning is not paused; nothing to resume")
    if state.at is not None and utc_naive(at) < utc_naive(state.at):
        raise PauseError(
            f"--as-of {utc_naive(at).isoformat()}Z is before the last pause/resume at {utc_naive(state.at).isoformat()}Z"
        )
    return state


class LearningStateConfig(dg.Config):
    paused: bool
    reason: str = ""
    actor: str = ""
    as_of: str = ""  # ISO-8601; empty = now (UTC)


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The new state"),
    description="Pause (with a reason) or resume active learning, with audit row paused/resumed.",
)
def set_learning_state_op(context: dg.OpExecutionContext, config: LearningStateConfig, warehouse: WarehouseResource):
    at = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    actor = config.actor.strip() or ran_as.split("@")[0]
    with warehouse.get().transaction() as tx:
        check_change(tx, paused=config.paused, at=at)
        state = learning_state.set_paused(
            tx, paused=config.paused, reason=config.reason, actor=actor, ran_as=ran_as, at=at, run_id=context.run_id
        )
    yield dg.AssetMaterialization(
        asset_key="learning_state",
        metadata={"paused": float(state.paused), "reason": state.reason or "", "actor": state.actor or ""},
    )
    context.log.info(skip_reason(state) or f"learning resumed by {state.actor}")
    yield dg.Output(state_json(state))


@dg.job(name="set_learning_state", description="learning-loop pause / resume.")
def set_learning_state():
    set_learning_state_op()
