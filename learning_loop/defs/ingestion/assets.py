"""Ingestion stage: the landing zone becomes videos, metric_snapshots, quarantine and the ledger."""


from pathlib import Path

import dagster as dg

from learning_loop.domain import validation
from learning_loop.ingestion import landing
from learning_loop.ingestion.landing import ingest_landing
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.settings import VIDEO_LANDING_KINDS

INGESTED = ("videos", "metric_snapshots", "quarantine", "ingested_files")
_DESCRIPTIONS = {
    "videos": "One row per published video (latest row per project_id, video_id), with recipe and topic hashes.",
    "metric_snapshots": "Cumulative counter snapshots (latest row per project_id, video_id, observed_at).",
    "quarantine": "Rows that broke a rule, with file, row number, reason and the raw row.",
    "ingested_files": "Ledger of landing files: SHA-256, status, rows read / loaded / quarantined.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, group_name="ingestion", kinds={warehouse_kind(), "csv", "parquet"}, description=_DESCRIPTIONS[name],
            code_version=code_version_of(landing, validation),
        )
        for name in INGESTED
    ],
    pool=WAREHOUSE_POOL,
)
def landing_zone(context: dg.AssetExecutionContext, warehouse: WarehouseResource, runtime: RuntimeResource):
    """Load every new or changed file of `$LEARNING_LOOP_HOME/landing/{videos,metrics}/`
    (the active-learning feeds load in their own job, `load_feeds`, which pausing stops)."""
    root = runtime.landing_dir()
    report = ingest_landing(
        warehouse.get(), root, progress=context.log.info, kinds=VIDEO_LANDING_KINDS, settle_s=runtime.landing_settle_s
    )
    summary = report.summary()
    assert report.rows_read == report.rows_loaded + report.rows_quarantined, "row accounting broken"
    common = {
        "landing_dir": dg.MetadataValue.path(str(root)),
        **{k: int(v) for k, v in summary.items()},
        "rows_accounted_for": report.rows_read == report.rows_loaded + report.rows_quarantined,
    }
    per_kind = {kind: [f for f in report.files if f.kind == kind and f.status == "loaded"] for kind in ("videos", "metrics")}
    yield dg.MaterializeResult(
        asset_key="videos", metadata={**common, "rows_loaded_here": sum(f.rows_loaded for f in per_kind["videos"])}
    )
    yield dg.MaterializeResult(
        asset_key="metric_snapshots",
        metadata={**common, "rows_loaded_here": sum(f.rows_loaded for f in per_kind["metrics"])},
    )
    yield dg.MaterializeResult(
        asset_key="quarantine",
        metadata={**common, "quarantine_share": float(summary["rows_quarantined"] / summary["rows_read"]) if summary["rows_read"] else 0.0},
    )
    yield dg.MaterializeResult(
        asset_key="ingested_files",
        metadata={**common, "files": dg.MetadataValue.json([f.__dict__ for f in report.files if f.status != "skipped"][:50])},
    )


def landing_fingerprint(
    root: Path, kinds: tuple[str, ...] = VIDEO_LANDING_KINDS, settle_s: float = 0.0
) -> tuple[str, int, int]:
    """A digest of the listing (name, size, mtime) of the files of `kinds` unchanged for `settle_s`
    seconds, their count, and the count of files still being written (see `ingestion.landing`)."""
    return landing.landing_fingerprint(root, kinds, settle_s)
