"""The one loop every daily asset uses to write the partitions of a (single-run) backfill.

Each partition is written in its own transaction: the asset's `write` replaces
the partition's rows (delete, insert) and reports its numbers, then the asset's
partition checks run inside the same transaction, so they see exactly what was
written. Progress is logged without flooding the event log.

The asset yields `run.results(...)`: first the run's `MaterializeResult` (run
totals and the check results combined over all partitions), then one
`AssetMaterialization` per partition with that partition's own numbers. Those
come last, so they are each partition's latest materialization and the UI's
Plots tab (by partition) shows every day's value, also after a single-run
backfill of many days.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg

from learning_loop.domain.asof import parse_partition_date
from learning_loop.warehouse.backend import Transaction, Warehouse

#: A partition check: (passed, metadata) for one partition, inside its transaction.
PartitionCheckFn = Callable[[Transaction, date], tuple[bool, dict[str, Any]]]
#: A partition check's outcome: (partition key, (passed, metadata)).
PartitionCheck = tuple[str, tuple[bool, dict[str, Any]]]


@dataclass
class PartitionWrite:
    """What writing one partition produced: its row count and the numbers worth plotting."""

    rows: int
    metrics: dict[str, Any] = field(default_factory=dict)
    log: str = ""


@dataclass
class DailyRun:
    asset_key: dg.AssetKey
    keys: list[str]
    writes: list[PartitionWrite]
    check_outcomes: dict[str, list[PartitionCheck]]

    @property
    def last(self) -> PartitionWrite:
        return self.writes[-1]

    def check_results(self) -> list[dg.AssetCheckResult]:
        return [combine_check_results(name, outcomes) for name, outcomes in self.check_outcomes.items()]

    def results(self, **extra: Any) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
        """The run's result (totals and the checks), then each partition's own numbers.

        A run of one partition carries that partition's numbers itself. A range's run-level result
        (recorded by Dagster for every partition of the range) carries only the run's totals, so the
        UI's plots show each partition's own numbers and nothing repeated across the range."""
        single = len(self.keys) == 1
        yield dg.MaterializeResult(
            metadata={
                "partitions_in_run": len(self.keys),
                "last_partition": self.keys[-1],
                "rows_written": sum(w.rows for w in self.writes),
                **({"dagster/row_count": self.last.rows, **plottable(self.last.metrics)} if single else {}),
                **extra,
            },
            check_results=self.check_results(),
        )
        if not single:
            for key, written in zip(self.keys, self.writes):
                yield dg.AssetMaterialization(
                    asset_key=self.asset_key,
                    partition=key,
                    metadata={"dagster/row_count": written.rows, **plottable(written.metrics)},
                )


def plottable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers as floats (the UI plots floats); undefined numbers left out; other values kept."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out[key] = value
        elif value is not None and math.isfinite(float(value)):
            out[key] = float(value)
    return out


def log_progress(index: int, total: int) -> bool:
    """Log every partition of a short run, every 7th (and the last) of a long one."""
    return total <= 7 or index % 7 == 0 or index == total


def write_daily_partitions(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    warehouse: Warehouse,
    label: str,
    write: Callable[..., PartitionWrite],
    checks: Mapping[str, PartitionCheckFn] | None = None,
    prepare: Callable[[Warehouse, date], Any] | None = None,
) -> DailyRun:
    """Write every partition of the run, each in its own transaction with its checks.

    `write(tx, partition)` replaces the partition's rows. With `prepare`, heavy work
    (model fitting) happens first, outside any transaction: `prepare(warehouse, partition)`
    reads what it needs in its own transaction and its result is passed to
    `write(tx, partition, prepared)`.
    """
    keys = list(context.partition_keys)
    checks = dict(checks or {})
    writes: list[PartitionWrite] = []
    outcomes: dict[str, list[PartitionCheck]] = {name: [] for name in checks}
    with warehouse.session():
        for index, key in enumerate(keys, start=1):
            partition = parse_partition_date(key)
            prepared = (prepare(warehouse, partition),) if prepare else ()
            with warehouse.transaction() as tx:
                written = write(tx, partition, *prepared)
                for name, check in checks.items():
                    outcomes[name].append((key, check(tx, partition)))
            writes.append(written)
            if log_progress(index, len(keys)):
                context.log.info(f"{label} {key} ({index}/{len(keys)}): {written.rows} rows{written.log}")
    return DailyRun(context.asset_key, keys, writes, outcomes)


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


def outcome_projects(tx: Transaction, partition: date) -> list[str]:
    """Projects with any outcome row in a partition (every one gets rows, even without mature videos)."""
    frame = tx.query_df(
        "SELECT DISTINCT project_id FROM outcomes WHERE partition_date = :d AND project_id IS NOT NULL ORDER BY project_id",
        {"d": partition},
    )
    return frame["project_id"].tolist()
