"""Retention cleanup (SPEC §13): which rows are old, how the archive is laid out and verified.

A row is archived when its time column is strictly before `as_of - FEEDBACK_RETENTION_DAYS`.
Archives are split per table and calendar month (UTC) of that time column, one
Parquet file per (table, month, content): the file name carries the content hash,
so rerunning after a crash between archive and delete rewrites the same file
instead of adding a duplicate. A file is verified by reading it back: same row
count and same content hash as the rows about to be deleted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from learning_loop.domain.active_learning.examples import utc_naive

DEFAULT_RETENTION_DAYS = 180

#: table -> its time column; the tables the cleanup archives (never videos, snapshots or partitions)
RETAINED_TABLES: dict[str, str] = {
    "labels": "labeled_at",
    "judgments": "judged_at",
    "decisions": "decided_at",
    "retrieval_pairs": "observed_at",
    "quarantine": "quarantined_at",
}


class ArchiveMismatch(RuntimeError):
    """An archive file read back differs from the rows it should hold; nothing is deleted."""


def cutoff(as_of: datetime, days: int) -> pd.Timestamp:
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    return utc_naive(as_of) - timedelta(days=days)


def _canonical(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT or value is pd.NA:
        return "\x00"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (pd.Timestamp, datetime)):
        return utc_naive(value).isoformat()
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows' canonical text, independent of row order and of dtype details
    (Int64 vs int64, timestamp precision), so a frame and its Parquet read-back agree."""
    columns = sorted(frame.columns)
    lines = sorted(
        "\x1f".join(_canonical(v) for v in row)
        for row in frame[columns].astype(object).itertuples(index=False, name=None)
    )
    digest = hashlib.sha256("\x1f".join(columns).encode("utf-8"))
    for line in lines:
        digest.update(b"\n" + line.encode("utf-8"))
    return digest.hexdigest()


def by_month(frame: pd.DataFrame, time_column: str) -> dict[str, pd.DataFrame]:
    """Rows per calendar month `YYYY-MM` of the time column, months in order."""
    if frame.empty:
        return {}
    months = pd.to_datetime(frame[time_column]).dt.strftime("%Y-%m")
    return {m: frame.loc[months == m].reset_index(drop=True) for m in sorted(months.unique())}


@dataclass(frozen=True)
class ArchivePart:
    table: str
    month: str
    rows: int
    sha256: str

    @property
    def relative_path(self) -> str:
        return f"{self.table}/{self.month}/{self.table}-{self.month}-{self.sha256[:16]}.parquet"


def plan_parts(table: str, frame: pd.DataFrame, time_column: str) -> list[tuple[ArchivePart, pd.DataFrame]]:
    return [(ArchivePart(table, month, len(rows), content_hash(rows)), rows)
            for month, rows in by_month(frame, time_column).items()]


def verify(part: ArchivePart, read_back: pd.DataFrame) -> None:
    if len(read_back) != part.rows:
        raise ArchiveMismatch(f"{part.relative_path}: {len(read_back)} rows read back, {part.rows} expected")
    got = content_hash(read_back)
    if got != part.sha256:
        raise ArchiveMismatch(f"{part.relative_path}: content hash {got[:16]} read back, {part.sha256[:16]} expected")
