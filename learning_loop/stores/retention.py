"""Retention cleanup (SPEC §13): archive old feedback to Parquet, verify, delete — all or nothing.

For each table of `domain.jobs.retention.RETAINED_TABLES`, inside ONE warehouse
transaction: select the rows older than the cut-off, write them per month to
`$LEARNING_LOOP_HOME/archive/<table>/<YYYY-MM>/<table>-<YYYY-MM>-<hash>.parquet`,
read every file back and compare row count and content hash, delete exactly
those rows, check that the number deleted equals the number archived, and append
the audit row (action `cleanup`). Any mismatch raises and the transaction rolls
back: nothing is deleted. A file whose name (content hash) already exists is
verified, not rewritten, so a rerun after a crash between archive and delete
neither loses nor duplicates rows; a second run finds nothing old and archives
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from learning_loop.domain.jobs.retention import RETAINED_TABLES, ArchiveMismatch, ArchivePart, cutoff, plan_parts, verify
from learning_loop.stores import audit
from learning_loop.warehouse.backend import Transaction, Warehouse

ARCHIVE_DIR = "archive"


@dataclass
class CleanupResult:
    cutoff: str
    retention_days: int
    archived: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def rows_archived(self) -> int:
        return sum(self.archived.values())

    @property
    def rows_deleted(self) -> int:
        return sum(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff, "retention_days": self.retention_days, "archived": self.archived,
                "deleted": self.deleted, "rows_archived": self.rows_archived, "rows_deleted": self.rows_deleted,
                "files": self.files}


def archive_root(home: str | Path) -> Path:
    return Path(home) / ARCHIVE_DIR


def _write_part(root: Path, part: ArchivePart, rows: pd.DataFrame) -> Path:
    path = root / part.relative_path
    if path.exists():
        verify(part, pd.read_parquet(path))  # same content written by an earlier (interrupted) run
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp)
    tmp.replace(path)
    return path


def delete_rows(tx: Transaction, table: str, column: str, before: datetime) -> int:
    """Delete the rows older than `before`; returns how many were deleted."""
    count_before = int(tx.scalar(f"SELECT COUNT(*) FROM {table}"))
    tx.execute(f'DELETE FROM {table} WHERE "{column}" < :cutoff', {"cutoff": before})
    return count_before - int(tx.scalar(f"SELECT COUNT(*) FROM {table}"))


def cleanup(wh: Warehouse, *, home: str | Path, as_of: datetime, retention_days: int, actor: str, ran_as: str,
            run_id: str | None = None) -> CleanupResult:
    """Archive, verify and delete the old rows of every retained table in one transaction."""
    before = cutoff(as_of, retention_days).to_pydatetime()
    result = CleanupResult(cutoff=f"{before.isoformat()}Z", retention_days=retention_days)
    root = archive_root(home)
    with wh.transaction() as tx:
        for table, column in RETAINED_TABLES.items():
            old = tx.query_df(f'SELECT * FROM {table} WHERE "{column}" < :cutoff', {"cutoff": before})
            for part, rows in plan_parts(table, old, column):
                path = _write_part(root, part, rows)
                verify(part, pd.read_parquet(path))
                result.files.append(str(path.relative_to(root)))
            result.archived[table] = len(old)
            result.deleted[table] = delete_rows(tx, table, column, before) if len(old) else 0
            if result.deleted[table] != result.archived[table]:
                raise ArchiveMismatch(
                    f"{table}: {result.deleted[table]} rows deleted but {result.archived[table]} archived; rolled back")
        audit.append(tx, at=as_of, action="cleanup", actor=actor, ran_as=ran_as,
                     reason=f"older than {retention_days} days", details=result.to_dict(), run_id=run_id)
    return result
