"""Bundle training and upload as op jobs, the `bundles` asset and the nightly training schedule (contract §9.3–9.4).

* `train_bundle`: trains one agent's bundle on its labels before as_of, writes
  the bundle row and audit `bundle_created` in one transaction (and, when
  `propose` is set — the nightly schedule — also the approval with proposer
  `system` and audit `proposed`). Output: the `bundles create --json` document.
* `upload_bundle`: validates a hand-edited bundle document and stores it as a
  `manual` bundle with audit `bundle_uploaded`.
* `prompt_bundle`: turns a variant of a `pending_review` prompt-optimization
  training run into a prompt bundle (`model_type` prompt) with audit
  `bundle_created` (kind prompt).
* `bundle_training_nightly` (04:00 UTC): one `train_bundle` run per agent with
  at least LEARNING_LOOP_BUNDLE_MIN_NEW_LABELS (20) new label rows since its
  last trained bundle and enough examples; skips with the reason while
  learning is paused.
"""


import json
from typing import Literal

import dagster as dg

from learning_loop.defs.active_learning.approvals import approvals_materialization, pending_check_evaluation
from learning_loop.domain.active_learning.training import DEFAULT_MIN_EXAMPLES, TrainedBundle, bundle_id_for
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, tick_time, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import approvals as approval_store
from learning_loop.stores import bundles as bundle_store
from learning_loop.stores.audit import ran_as_of_run
from learning_loop.stores.learning_state import pause_reason
from learning_loop.stores.planning import parse_as_of

GROUP = "active_learning"
SYSTEM_PROPOSER = "system"

bundles_spec = dg.AssetSpec(
    "bundles",
    group_name=GROUP,
    deps=["labels"],
    kinds={warehouse_kind()},
    description="Trained and hand-edited bundles per agent: classifier, cut-off, thresholds, reproducible record.",
)


def bundle_materialization(bundle: TrainedBundle, **extra) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key="bundles",
        metadata={
            "bundle_id": bundle.bundle_id,
            "agent": bundle.agent,
            "model_type": bundle.model_type,
            "source": bundle.source,
            "accuracy": float("nan") if bundle.accuracy is None else float(bundle.accuracy),
            "training_count": float(bundle.training_count or 0),
            "thresholds": dg.MetadataValue.json(bundle.thresholds),
            **extra,
        },
    )


class TrainBundleConfig(dg.Config):
    """`bundles create`: train `agent`'s bundle on its examples labeled before `as_of`."""

    agent: str
    min_examples: int = DEFAULT_MIN_EXAMPLES
    model_type: Literal["logistic", "tree"] = "logistic"
    as_of: str = ""  # ISO-8601; empty = now (UTC)
    min_confidence: float | None = None
    seed: int = 0
    actor: str = ""  # recorded as created_by (default: who ran it)
    propose: bool = False  # also propose the new bundle (the nightly schedule does)
    proposer: str = SYSTEM_PROPOSER


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The bundles create --json output"),
    description="Train a bundle (contract §9.3–9.4) and write it with its audit row in one transaction.",
)
def train_bundle_op(
    context: dg.OpExecutionContext, config: TrainBundleConfig, warehouse: WarehouseResource, runtime: RuntimeResource
):
    at = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    actor = config.actor.strip() or ran_as
    approval = None
    with warehouse.get().transaction() as tx:
        bundle = bundle_store.train(
            tx, agent=config.agent, as_of=at, model_type=config.model_type, min_examples=config.min_examples,
            min_confidence=config.min_confidence, seed=config.seed, actor=actor, ran_as=ran_as, run_id=context.run_id,
        )
        events: list = [bundle_materialization(bundle)]
        if config.propose:
            approval = approval_store.propose(
                tx, agent=bundle.agent, bundle_id=bundle.bundle_id, proposer=config.proposer, ran_as=ran_as, at=at,
                home=runtime.home, run_id=context.run_id,
            )
            events += [
                approvals_materialization(tx, approval_id=approval.approval_id, agent=approval.agent,
                                          bundle_id=approval.bundle_id, status=approval.status, action="propose"),
                pending_check_evaluation(tx),
            ]
    yield from events
    context.log.info(
        f"bundle {bundle.bundle_id}: {bundle.training_count} examples, accuracy {bundle.accuracy}"
        + (f"; proposed as {approval.approval_id} ({approval.recommendation})" if approval else "")
    )
    yield dg.Output(bundle.to_json_dict())


@dg.job(name="train_bundle", description="bundles create: train one agent's bundle (nightly: and propose it).")
def train_bundle_job():
    train_bundle_op()


class UploadBundleConfig(dg.Config):
    """`bundles upload`: `document` is the uploaded file's JSON text `{"agent", "thresholds"}`."""

    document: str
    file_name: str = ""
    actor: str = ""
    as_of: str = ""


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The bundles upload --json output"),
    description="Validate a hand-edited bundle and store it as a manual bundle (contract §9.3–9.4).",
)
def upload_bundle_op(
    context: dg.OpExecutionContext, config: UploadBundleConfig, warehouse: WarehouseResource, runtime: RuntimeResource
):
    at = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    doc = json.loads(config.document)
    with warehouse.get().transaction() as tx:
        bundle = bundle_store.upload(
            tx, doc, home=runtime.home, at=at, actor=config.actor.strip() or ran_as, ran_as=ran_as,
            run_id=context.run_id,
        )
    yield bundle_materialization(bundle, file_name=config.file_name)
    yield dg.Output({**bundle.to_json_dict(), "source": bundle.source, "base_bundle_id": bundle.base_bundle_id})


@dg.job(name="upload_bundle", description="bundles upload: store a hand-edited bundle (source manual).")
def upload_bundle_job():
    upload_bundle_op()


class PromptBundleConfig(dg.Config):
    """`bundles from-prompt`: ship a variant of a `pending_review` prompt-optimization training run."""

    training_run_id: str  # the Dagster run id of the prompt_optimization run (training_runs.run_id)
    agent: str = ""  # needed only when that run covered several agents
    variant: str = ""  # empty = the run's best variant by token-F1
    actor: str = ""
    as_of: str = ""  # ISO-8601; empty = now (UTC)


@dg.op(
    pool=WAREHOUSE_POOL,
    out=dg.Out(dict, description="The bundles from-prompt --json output"),
    description="Turn a prompt-optimization variant into a prompt bundle (contract §9.3–9.4, §10) with its audit row.",
)
def prompt_bundle_op(context: dg.OpExecutionContext, config: PromptBundleConfig, warehouse: WarehouseResource):
    at = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    with warehouse.get().transaction() as tx:
        bundle = bundle_store.create_prompt_bundle(
            tx, training_run_id=config.training_run_id, agent=config.agent.strip() or None,
            variant=config.variant.strip() or None, at=at, actor=config.actor.strip() or ran_as, ran_as=ran_as,
            run_id=context.run_id,
        )
    snap = bundle.snapshot
    yield bundle_materialization(bundle, variant=snap["variant"], training_run_id=config.training_run_id,
                                 accuracy_metric=snap["accuracy_metric"])
    context.log.info(
        f"prompt bundle {bundle.bundle_id}: variant {snap['variant']} of training run {config.training_run_id}, "
        f"token-F1 {bundle.accuracy} on {bundle.training_count} held-out examples"
    )
    yield dg.Output(prompt_bundle_json(bundle))


def prompt_bundle_json(bundle: TrainedBundle) -> dict:
    """The `bundles from-prompt --json` document: the bundle fields plus the prompt's provenance."""
    snap = bundle.snapshot
    return {**bundle.to_json_dict(), "source": bundle.source, "base_bundle_id": bundle.base_bundle_id,
            "variant": snap["variant"], "training_run_id": snap["training_run_id"],
            "accuracy_metric": snap["accuracy_metric"], "system_prompt": snap["system_prompt"]}


@dg.job(name="prompt_bundle", description="bundles from-prompt: a prompt-optimization variant as a prompt bundle.")
def prompt_bundle_job():
    prompt_bundle_op()


@dg.schedule(
    job=train_bundle_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    name="bundle_training_nightly",
    description="04:00 UTC: train (and propose, proposer `system`) a bundle for every agent with at least "
    "LEARNING_LOOP_BUNDLE_MIN_NEW_LABELS new labels since its last trained bundle. Skips while paused.",
)
def bundle_training_nightly(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, runtime: RuntimeResource
):
    wh = warehouse.get()
    reason = pause_reason(wh)
    if reason:
        return dg.SkipReason(reason)
    when = tick_time(context)
    requests, skipped = [], []
    for agent in bundle_store.agents_with_labels(wh):
        new = bundle_store.new_label_count(wh, agent, bundle_store.last_trained_at(wh, agent, before=when), when)
        if new < runtime.bundle_min_new_labels:
            skipped.append(f"{agent}: {new} new label(s)")
            continue
        examples = bundle_store.example_count(wh, agent, when)
        if examples < DEFAULT_MIN_EXAMPLES:
            skipped.append(f"{agent}: {examples} example(s) < {DEFAULT_MIN_EXAMPLES}")
            continue
        if bundle_store.load(wh, bundle_id_for(agent, when)) is not None:
            skipped.append(f"{agent}: bundle {bundle_id_for(agent, when)} exists")
            continue
        config = TrainBundleConfig(
            agent=agent, as_of=when.isoformat(), seed=int(when.strftime("%Y%m%d")), actor=SYSTEM_PROPOSER,
            propose=runtime.bundle_auto_propose, proposer=SYSTEM_PROPOSER,
        )
        requests.append(
            dg.RunRequest(
                run_key=f"{agent}:{when:%Y%m%dT%H%M%S}",
                run_config=dg.RunConfig(ops={"train_bundle_op": config}),
                tags={"learning_loop/agent": agent},
            )
        )
    if skipped:
        context.log.info("not trained: " + "; ".join(skipped))
    if not requests:
        return dg.SkipReason(
            f"no agent with >= {runtime.bundle_min_new_labels} new labels since its last bundle"
            + (f" ({'; '.join(skipped)})" if skipped else "")
        )
    return requests
