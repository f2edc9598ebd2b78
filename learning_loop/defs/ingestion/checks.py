"""Checks on the ledger and the quarantine: every row accounted for, quarantine growth (WARN)."""

from datetime import datetime, timedelta, timezone

import dagster as dg

from learning_loop.orchestration.partitions import WAREHOUSE_POOL
from learning_loop.orchestration.resources import WarehouseResource


class QuarantineCheckConfig(dg.Config):
    max_share: float = 0.05
    hours: int = 24


@dg.asset_check(
    asset="quarantine",
    description="WARN when more than max_share of the rows read in the last `hours` were quarantined.",
    pool=WAREHOUSE_POOL,
)
def quarantine_growth(config: QuarantineCheckConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=config.hours)
    frame = warehouse.get().query_df(
        "SELECT coalesce(sum(rows_read), 0) AS rows_read, coalesce(sum(rows_quarantined), 0) AS quarantined, "
        "count(*) FILTER (WHERE status = 'rejected') AS rejected_files "
        "FROM ingested_files WHERE loaded_at >= :since",
        {"since": since},
    )
    read, quarantined, rejected = (int(frame.iat[0, i]) for i in range(3))
    share = quarantined / read if read else 0.0
    return dg.AssetCheckResult(
        passed=share <= config.max_share and rejected == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_read": read,
            "rows_quarantined": quarantined,
            "quarantine_share": float(share),
            "rejected_files": rejected,
            "window_hours": config.hours,
        },
    )


@dg.asset_check(
    asset="ingested_files",
    blocking=True,
    description="For every loaded file, rows_read = rows_loaded + rows_quarantined.",
    pool=WAREHOUSE_POOL,
)
def rows_accounted_for(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().query_df(
        "SELECT kind, file_name, rows_read, rows_loaded, rows_quarantined FROM ingested_files "
        "WHERE status = 'loaded' AND rows_read <> rows_loaded + rows_quarantined"
    )
    return dg.AssetCheckResult(
        passed=frame.empty,
        metadata={"files_not_accounted": len(frame), "examples": dg.MetadataValue.json(frame.head(5).to_dict("records"))},
    )
