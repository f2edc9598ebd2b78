"""Shared pieces of daily assets that write every partition of a single-run backfill."""

from typing import Any

import dagster as dg

#: A partition check's outcome: (partition key, (passed, metadata)).
PartitionCheck = tuple[str, tuple[bool, dict[str, Any]]]


def log_progress(index: int, total: int) -> bool:
    """Log every partition of a short run, every 7th (and the last) of a long one."""
    return total <= 7 or index % 7 == 0 or index == total


def combine_check_results(check_name: str, outcomes: list[PartitionCheck]) -> dg.AssetCheckResult:
    """One check result over every partition of the run: passes if all pass."""
    failing = [key for key, (passed, _) in outcomes if not passed]
    details = {key: meta for key, (passed, meta) in outcomes if not passed} or {outcomes[-1][0]: outcomes[-1][1][1]}
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=not failing,
        metadata={
            "partitions_checked": len(outcomes),
            "failing_partitions": ", ".join(failing) or "none",
            "details": dg.MetadataValue.json(details),
        },
    )


def outcome_projects(tx, partition) -> list[str]:
    """Projects with any outcome row in a partition (every one gets rows, even without mature videos)."""
    frame = tx.query_df(
        "SELECT DISTINCT project_id FROM outcomes WHERE partition_date = :d AND project_id IS NOT NULL ORDER BY project_id",
        {"d": partition},
    )
    return frame["project_id"].tolist()
