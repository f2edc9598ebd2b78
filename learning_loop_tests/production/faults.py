"""Helpers of the fault tests: a backend killer for PostgreSQL, warehouse snapshots, clean references."""

from __future__ import annotations

import threading
import time
from datetime import date

import pandas as pd

from learning_loop.warehouse.backend import Warehouse

#: tables written by the daily job, one partition per day
DAILY_TABLES = ("outcomes", "percentile_rewards", "recipe_stats", "experiment_verdicts", "bandit_arms",
                "predictor_coefficients")
#: wall-clock columns (when a row was computed), not part of the row's content
VOLATILE_COLUMNS = frozenset({"evaluated_at", "trained_at", "computed_at"})


def snapshot(wh: Warehouse, tables: tuple[str, ...] = DAILY_TABLES) -> dict[str, pd.DataFrame]:
    """Every row of the tables, volatile columns left out, in a canonical order."""
    out = {}
    for name in tables:
        frame = wh.query_df(f"SELECT * FROM {name}")
        frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS])
        cols = sorted(frame.columns)
        frame = frame[cols].astype(str).sort_values(cols).reset_index(drop=True)
        out[name] = frame
    return out


def partition_counts(wh: Warehouse, tables: tuple[str, ...] = DAILY_TABLES) -> dict[tuple[str, date], int]:
    """(table, partition date) → rows."""
    counts = {}
    for name in tables:
        frame = wh.query_df(f"SELECT partition_date, count(*) AS n FROM {name} GROUP BY partition_date")
        for row in frame.itertuples(index=False):
            counts[(name, pd.Timestamp(row.partition_date).date())] = int(row.n)
    return counts


def assert_same_rows(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        assert len(frame) > 0 or name in ("experiment_verdicts",), f"clean run wrote no {name} rows"
        pd.testing.assert_frame_equal(actual[name], frame, obj=name)


class BackendKiller(threading.Thread):
    """Terminates the warehouse database's backends that are inside a transaction (a run writing),
    from its own connection: `pg_terminate_backend(pid)` on `pg_stat_activity` of that database.

    `times=None` keeps killing until stopped; `times=n` stops after n successful terminations.
    With `after_rows_in`, it starts once that table of the database has rows (a partition committed)."""

    def __init__(self, admin_url: str, database: str, times: int | None = None, poll_s: float = 0.005,
                 after_rows_in: str | None = None) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.database, self.times, self.poll_s = admin_url, database, times, poll_s
        self.after_rows_in = after_rows_in
        self.terminated = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psycopg2

        con = psycopg2.connect(self.admin_url)
        con.autocommit = True
        if self.after_rows_in:
            watch = psycopg2.connect(self.admin_url.rsplit("/", 1)[0] + "/" + self.database)
            watch.autocommit = True
            with watch.cursor() as cur:
                while not self._stop_event.is_set():
                    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {self.after_rows_in})")
                    if cur.fetchone()[0]:
                        break
                    time.sleep(self.poll_s)
            watch.close()
        try:
            with con.cursor() as cur:
                while not self._stop_event.is_set() and (self.times is None or self.terminated < self.times):
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND state <> 'idle'",
                        (self.database,),
                    )
                    self.terminated += sum(1 for (ok,) in cur.fetchall() if ok)
                    time.sleep(self.poll_s)
        finally:
            con.close()

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=10)
        return self.terminated
