"""The labeled-data feeds (runbook 003 "Check Labeled Data Pipeline", contract §3.3).

`labels`, `judgments` and `decisions` each are an asset, loaded from
`$LEARNING_LOOP_HOME/landing/<kind>/` by the same ingestion code as videos and
metrics (ledger, SHA-256 skip, supersede by key, quarantine). The `load_feeds`
job loads them; the `feeds_sensor` (new or changed feed files) and the
`feeds_nightly` schedule (00:30 UTC) launch it and skip with the pause reason
while active learning is paused. Video and metric ingestion (`ingest_landing`)
never loads these kinds, so pausing never stops it.

The runbook's red flags are WARN checks on `labels`, as of the check's run
(config `as_of` to look at another moment).
"""

import json
from datetime import datetime, timezone
from typing import Any

import dagster as dg
import pandas as pd

from learning_loop.defs.ingestion.assets import landing_fingerprint
from learning_loop.domain.active_learning.examples import (
    MAX_LABEL_SHARE,
    MIN_AGENT_EXAMPLES,
    MIN_AGENT_NEW_EXAMPLES,
    MIN_RECENT_LABELS,
    RECENT_DAYS,
    RedFlag,
    daily_growth,
    labeled_stats,
    red_flags,
    utc_naive,
)
from learning_loop.domain.validation import LABEL_SOURCES
from learning_loop.ingestion.landing import FileResult, ingest_landing
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.settings import FEED_LANDING_KINDS
from learning_loop.stores.learning_state import pause_reason
from learning_loop.views.active_learning import label_rows
from learning_loop.warehouse.backend import Warehouse

GROUP = "active_learning"
#: Days of daily growth shown in the `labels` materialization's table.
GROWTH_DAYS = 30
_DESCRIPTIONS = {
    "labels": "Labeled examples per agent, example and source (gold > approvals > feedback), features as JSON.",
    "judgments": "Automated judges' scores in [0,1] of examples (latest per agent, example_id, judge).",
    "decisions": "What each agent did in production: bundle, quality, latency (latest per agent, decision_id).",
    "retrieval_pairs": "Retrieval feedback: query, document, relevant 0/1, observed_at (the RAG training job's input).",
}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _files_summary(files: list[FileResult]) -> dict[str, int]:
    loaded = [f for f in files if f.status == "loaded"]
    return {
        "files_loaded": len(loaded),
        "files_rejected": sum(f.status == "rejected" for f in files),
        "files_skipped": sum(f.status == "skipped" for f in files),
        "rows_read": sum(f.rows_read for f in loaded),
        "rows_loaded": sum(f.rows_loaded for f in loaded),
        "rows_quarantined": sum(f.rows_quarantined for f in loaded),
    }


def _growth_metadata(wh: Warehouse, now: datetime) -> dict[str, Any]:
    """Numbers the UI plots over materializations: totals, recent_7d and label rows per source
    (cumulative, and on the newest label's day), plus a table of daily growth up to that day."""
    labels = label_rows(wh, now)
    stats = labeled_stats(labels, now)
    metadata: dict[str, Any] = {
        "total": float(stats["total"]),
        "recent_7d": float(stats["recent_7d"]),
        "agents": len(stats["by_agent"]),
        **{f"total_{source}": float(stats["by_source"].get(source, 0)) for source in LABEL_SOURCES},
    }
    if labels.empty:
        return {**metadata, "latest_label_day": "none"}
    newest = pd.Timestamp(labels["labeled_at"].max())
    day_end = newest.normalize() + pd.Timedelta(days=1)
    growth = daily_growth(labels, day_end, days=GROWTH_DAYS)
    table = growth.pivot(index="day", columns="source", values="examples").sort_index()
    latest = table.iloc[-1]
    metadata.update({f"new_{source}_latest_day": float(latest.get(source, 0)) for source in LABEL_SOURCES})
    metadata["latest_label_day"] = newest.date().isoformat()
    lines = ["| day | " + " | ".join(table.columns) + " | all |", "|---" * (len(table.columns) + 2) + "|"]
    for day, counts in table.iloc[::-1].iterrows():
        lines.append(f"| {pd.Timestamp(day).date()} | " + " | ".join(str(int(n)) for n in counts) + f" | {int(counts.sum())} |")
    metadata["daily_growth"] = dg.MetadataValue.md(
        f"Label rows per source per day, {GROWTH_DAYS} days up to the newest label ({newest.date()}), newest first\n\n"
        + "\n".join(lines)
    )
    return metadata


@dg.multi_asset(
    specs=[
        dg.AssetSpec(kind, group_name=GROUP, kinds={warehouse_kind(), "csv", "parquet"}, description=_DESCRIPTIONS[kind])
        for kind in FEED_LANDING_KINDS
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def feeds(context: dg.AssetExecutionContext, warehouse: WarehouseResource, runtime: RuntimeResource):
    """Load every new or changed file of `$LEARNING_LOOP_HOME/landing/{labels,judgments,decisions}/`
    (only the selected kinds): same ledger, supersede, quarantine and row rules as videos and metrics."""
    kinds = [k for k in FEED_LANDING_KINDS if dg.AssetKey(k) in context.selected_asset_keys]
    wh = warehouse.get()
    paused = pause_reason(wh)
    if paused:
        context.log.warning(f"loading feeds although automatic loading is skipped ({paused})")
    root = runtime.landing_dir()
    report = ingest_landing(wh, root, progress=context.log.info, kinds=kinds, settle_s=runtime.landing_settle_s)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined, "row accounting broken"
    now = _now()
    for kind in kinds:
        files = [f for f in report.files if f.kind == kind]
        summary = _files_summary(files)
        metadata: dict[str, Any] = {
            "landing_dir": dg.MetadataValue.path(str(runtime.landing_dir(kind))),
            **summary,
            "quarantine_share": float(summary["rows_quarantined"] / summary["rows_read"]) if summary["rows_read"] else 0.0,
            "table_rows": float(wh.scalar(f"SELECT count(*) FROM {kind}")),
            "files": dg.MetadataValue.json([f.__dict__ for f in files if f.status != "skipped"][:50]),
        }
        if kind == "labels":
            metadata.update(_growth_metadata(wh, now))
        yield dg.MaterializeResult(asset_key=kind, metadata=metadata)


load_feeds_job = dg.define_asset_job(
    "load_feeds",
    selection=dg.AssetSelection.assets(*FEED_LANDING_KINDS),
    description="Load new labels, judgments and decisions files (runbook 003), then run the labels checks.",
)


@dg.schedule(
    job=load_feeds_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    description="Nightly feed loading (00:30 UTC); skips while active learning is paused.",
)
def feeds_nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    reason = pause_reason(warehouse.get())
    if reason:
        return dg.SkipReason(reason)
    return dg.RunRequest(tags={"learning_loop/trigger": "feeds_nightly"})


@dg.sensor(
    job=load_feeds_job,
    minimum_interval_seconds=60,
    description="Launch feed loading when labels, judgments or decisions files appear or change; "
    "skips while active learning is paused (the files load once it resumes).",
)
def feeds_sensor(
    context: dg.SensorEvaluationContext, runtime: RuntimeResource, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    # only files unchanged for `landing_settle_s` seconds count: a half-written file requests no run
    fingerprint, count, fresh = landing_fingerprint(runtime.landing_dir(), FEED_LANDING_KINDS, runtime.landing_settle_s)
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("fingerprint") == fingerprint:
        waiting = f"; {fresh} still being written" if fresh else ""
        return dg.SkipReason(f"no new or changed feed files ({count} files seen{waiting})")
    cursor = json.dumps({"fingerprint": fingerprint, "files": count})
    if count == 0:
        return dg.SensorResult(skip_reason=dg.SkipReason("no feed files in the landing zone"), cursor=cursor)
    # only now the warehouse is needed; while paused the cursor stays, so the files load after resuming
    reason = pause_reason(warehouse.get())
    if reason:
        return dg.SkipReason(reason)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=fingerprint, tags={"learning_loop/feed_files": str(count)})],
        cursor=cursor,
    )


# --------------------------------------------------------------------------- red-flag checks (WARN)


class LabelChecksConfig(dg.Config):
    """`as_of`: ISO-8601 moment the checks look at (default: when the check runs)."""

    as_of: str | None = None


def _flags(config: LabelChecksConfig, wh: Warehouse, check: str) -> tuple[pd.Timestamp, list[RedFlag], dict]:
    as_of = utc_naive(config.as_of) if config.as_of else pd.Timestamp(_now())
    labels = label_rows(wh, as_of)
    # agents that decide in production count even with no labels yet (then they have 0 examples)
    deciding = wh.query_df("SELECT DISTINCT agent FROM decisions WHERE decided_at < :t", {"t": as_of.to_pydatetime()})
    flags = [f for f in red_flags(labels, as_of, agents=deciding["agent"].tolist()) if f.check == check]
    return as_of, flags, labeled_stats(labels, as_of)


def _result(as_of: pd.Timestamp, flags: list[RedFlag], extra: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not flags,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f.message for f in flags) or None,
        metadata={
            "as_of": as_of.isoformat(),
            "flags": dg.MetadataValue.json([f.__dict__ for f in flags]),
            **extra,
        },
    )


@dg.asset_check(
    asset="labels",
    name="recent_labels",
    description=f"WARN when fewer than {MIN_RECENT_LABELS} labels arrived in the last {RECENT_DAYS} days "
    "(runbook: low incoming data, may need more human feedback).",
    pool=WAREHOUSE_POOL,
)
def recent_labels(config: LabelChecksConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    as_of, flags, stats = _flags(config, warehouse.get(), "low_recent_labels")
    return _result(as_of, flags, {"recent_7d": float(stats["recent_7d"]), "limit": MIN_RECENT_LABELS})


@dg.asset_check(
    asset="labels",
    name="examples_per_agent",
    description=f"WARN when an agent has fewer than {MIN_AGENT_EXAMPLES} labeled examples "
    "(runbook: not enough for training).",
    pool=WAREHOUSE_POOL,
)
def examples_per_agent(config: LabelChecksConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    as_of, flags, _ = _flags(config, warehouse.get(), "few_examples")
    return _result(as_of, flags, {"agents_below": len(flags), "limit": MIN_AGENT_EXAMPLES})


@dg.asset_check(
    asset="labels",
    name="labeled_data_growth",
    description=f"WARN when an agent got fewer than {MIN_AGENT_NEW_EXAMPLES} new examples in the last "
    f"{RECENT_DAYS} days (runbook alert: labeled data growth).",
    pool=WAREHOUSE_POOL,
)
def labeled_data_growth(config: LabelChecksConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    as_of, flags, _ = _flags(config, warehouse.get(), "slow_growth")
    return _result(as_of, flags, {"agents_below": len(flags), "limit": MIN_AGENT_NEW_EXAMPLES})


@dg.asset_check(
    asset="labels",
    name="label_balance",
    description=f"WARN when one label value is more than {MAX_LABEL_SHARE:.0%} of an agent's examples "
    "(a classifier trained on it learns little).",
    pool=WAREHOUSE_POOL,
)
def label_balance(config: LabelChecksConfig, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    as_of, flags, _ = _flags(config, warehouse.get(), "label_imbalance")
    return _result(as_of, flags, {"agents_imbalanced": len(flags), "limit": MAX_LABEL_SHARE})
