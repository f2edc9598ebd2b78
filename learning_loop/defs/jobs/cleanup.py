"""Retention cleanup (contract §10, Sunday 01:00 UTC): the asset `feedback_archive`.

Rows of labels, judgments, decisions, retrieval_pairs and quarantine older than
FEEDBACK_RETENTION_DAYS (180) are archived to Parquet under
`$LEARNING_LOOP_HOME/archive/<table>/<YYYY-MM>/`, verified, then deleted in one
transaction with an audit row `cleanup` (`stores.retention`).
"""


import dagster as dg

from learning_loop.defs.jobs.common import GROUP, RETRY, AsOfConfig, as_of_schedule, asset_job
from learning_loop.domain.jobs import retention as core
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import retention
from learning_loop.stores.audit import ran_as_of_run
from learning_loop.stores.planning import parse_as_of

KIND = "cleanup"
ASSET = "feedback_archive"


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    deps=list(core.RETAINED_TABLES),
    kinds={"parquet", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    code_version=code_version_of(core, retention),
    description="Weekly retention cleanup (contract §10): feedback older than FEEDBACK_RETENTION_DAYS archived "
    "to Parquet per table and month, verified, then deleted in one transaction.",
    check_specs=[dg.AssetCheckSpec("archived_equals_deleted", asset=ASSET, blocking=True,
                                   description="Rows archived = rows deleted, per table.")],
)
def feedback_archive(context: dg.AssetExecutionContext, config: AsOfConfig, warehouse: WarehouseResource,
                     runtime: RuntimeResource) -> dg.MaterializeResult:
    as_of = parse_as_of(config.as_of)
    ran_as = ran_as_of_run(context.run.tags)
    result = retention.cleanup(warehouse.get(), home=runtime.home, as_of=as_of,
                               retention_days=runtime.feedback_retention_days, actor="cleanup", ran_as=ran_as,
                               run_id=context.run.run_id)
    context.log.info(f"cleanup: {result.rows_archived} rows archived and deleted (cut-off {result.cutoff})")
    return dg.MaterializeResult(
        metadata={
            "cutoff": result.cutoff,
            "retention_days": float(result.retention_days),
            "rows_archived": float(result.rows_archived),
            "rows_deleted": float(result.rows_deleted),
            **{f"archived_{t}": float(n) for t, n in result.archived.items()},
            "files": dg.MetadataValue.json(result.files),
            "archive": dg.MetadataValue.path(str(retention.archive_root(runtime.home))),
        },
        check_results=[dg.AssetCheckResult(check_name="archived_equals_deleted",
                                           passed=result.archived == result.deleted,
                                           metadata={"archived": dg.MetadataValue.json(result.archived),
                                                     "deleted": dg.MetadataValue.json(result.deleted)})],
    )


cleanup_job = asset_job(KIND, ASSET, "Weekly retention cleanup (contract §10).")
cleanup_schedule = as_of_schedule(
    KIND, cleanup_job, ASSET, pausable=True,
    description="Sunday 01:00 UTC: archive and delete feedback older than FEEDBACK_RETENTION_DAYS; "
    "skips while learning is paused.",
)
