"""Judge weights in the warehouse (`judge_weights`, daily partitions, SPEC §12).

Partition ``D`` holds the weights as of ``T = D + 1 day`` (SPEC §4): the
judgments and gold labels known before ``T``. `inputs` reads them, `write`
replaces the partition, `partition`/`latest` read it back, `week_before` gives
the highest weight of each judge in the 7 partitions before ``D`` (what the
"drop > 0.2 within 7 days" check compares with).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from learning_loop.domain.asof import as_of as partition_as_of
from learning_loop.warehouse.backend import Transaction, Warehouse

TABLE = "judge_weights"


def inputs(source: Transaction | Warehouse, as_of: datetime, window_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(judgments, gold labels) known before ``as_of``. Judgments of every age are read (every judge
    with a judgment gets a row); gold labels only of examples some judge scored."""
    judgments = source.query_df(
        "SELECT agent, example_id, judge, score, judged_at FROM judgments WHERE judged_at < :t",
        {"t": as_of},
    )
    gold = source.query_df(
        "SELECT l.agent, l.example_id, l.label, l.labeled_at, l.source FROM labels l "
        "WHERE l.source = 'gold' AND l.labeled_at < :t AND EXISTS (SELECT 1 FROM judgments j "
        "WHERE j.agent = l.agent AND j.example_id = l.example_id AND j.judged_at < :t)",
        {"t": as_of},
    )
    return judgments, gold


def write(tx: Transaction, partition: date, weights: pd.DataFrame, *, window_days: int, computed_at: datetime) -> int:
    """Replace the partition's rows with ``weights`` (a ``domain.judges.judge_weights`` frame)."""
    rows = weights.assign(window_days=window_days, computed_at=computed_at) if not weights.empty else weights
    return tx.replace_partition(TABLE, partition, rows)


def partition(source: Transaction | Warehouse, day: date) -> pd.DataFrame:
    return source.query_df(
        "SELECT agent, judge, weight, n_gold, auc, raw_agreement, reason FROM judge_weights "
        "WHERE partition_date = :d ORDER BY agent, judge",
        {"d": day},
    )


def latest_partition(source: Transaction | Warehouse, as_of: datetime | None = None) -> date | None:
    """The newest partition complete at ``as_of`` (``D + 1 day <= as_of``), or the newest of all."""
    params = {}
    where = ""
    if as_of is not None:
        where = "WHERE partition_date < :day"
        stamp = pd.Timestamp(as_of)
        stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
        params["day"] = stamp.date()  # D + 1 day (00:00) <= as_of  <=>  D < as_of's date
    value = source.scalar(f"SELECT max(partition_date) FROM judge_weights {where}", params)
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def latest(source: Transaction | Warehouse, as_of: datetime | None = None) -> tuple[date | None, pd.DataFrame]:
    day = latest_partition(source, as_of)
    return day, partition(source, day) if day else pd.DataFrame(columns=["agent", "judge", "weight"])


def week_before(source: Transaction | Warehouse, day: date) -> pd.DataFrame:
    """Per (agent, judge), the highest weight in the partitions ``D-7 … D-1`` (empty when none)."""
    return source.query_df(
        "SELECT agent, judge, max(weight) AS weight FROM judge_weights "
        "WHERE partition_date >= :start AND partition_date < :d GROUP BY agent, judge ORDER BY agent, judge",
        {"start": day - timedelta(days=7), "d": day},
    )


def as_of_of(day: date) -> datetime:
    """The moment partition ``D`` describes: ``D + 1 day`` 00:00 UTC."""
    return partition_as_of(day)
