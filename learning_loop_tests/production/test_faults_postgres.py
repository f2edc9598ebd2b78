"""PostgreSQL connections terminated mid-run (`pg_terminate_backend`, the server keeps running), while
`update_stats` writes.

A single terminated connection is retried with backoff (the jobs' op retry policy) and the run
succeeds; connections terminated on every attempt fail the run with a one-line root cause. Either
way no partition is half-written (each is one transaction), and the rows end up identical to a
clean run's.
"""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from learning_loop.orchestration.runner import RunFailed, run_job
from learning_loop.settings import Settings
from learning_loop.warehouse import backend
from learning_loop.warehouse.backend import open_warehouse
from learning_loop_tests.conftest import _create_database, _drop_database
from learning_loop_tests.production.cluster import land_sample
from learning_loop_tests.production.faults import (
    DAILY_TABLES,
    BackendKiller,
    assert_same_rows,
    partition_counts,
    snapshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

RANGE = ("2024-01-08", "2024-01-10")


def _admin(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def _copy_database(admin_url: str, source: str, target: str) -> None:
    """`CREATE DATABASE target TEMPLATE source` (the source's connections are closed first)."""
    backend._pg_engine.cache_clear()
    engine = create_engine(_admin(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                          "AND pid <> pg_backend_pid()"), {"d": source})
        conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
    engine.dispose()


def _stats(settings: Settings, instance: dg.DagsterInstance):
    return run_job("update_stats", settings=settings, partition_range=RANGE, instance=instance)


def _retries(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records)


def test_terminated_connections_are_retried_and_never_leave_half_written_partitions(tmp_path, pg_admin_url):
    from sqlalchemy.engine import make_url

    names = []
    try:
        faulty_db, faulty_url = _create_database(pg_admin_url)
        names.append(faulty_db)
        home = tmp_path / "rt"
        land_sample(home)
        settings = Settings.for_home(home, warehouse_url_raw=faulty_url)
        instance = dg.DagsterInstance.ephemeral()
        run_job("ingest_landing", settings=settings, instance=instance)
        clean_db = f"{faulty_db}_clean"
        _copy_database(pg_admin_url, faulty_db, clean_db)
        names.append(clean_db)
        clean_url = make_url(faulty_url).set(database=clean_db).render_as_string(hide_password=False)

        _stats(Settings.for_home(home, warehouse_url_raw=clean_url), instance)
        clean = open_warehouse(clean_url)
        expected, expected_counts = snapshot(clean), partition_counts(clean)
        assert {table for table, _ in expected_counts} >= set(DAILY_TABLES) - {"experiment_verdicts"}

        # 1. once a partition is committed, every attempt's connection is terminated while it writes:
        # the run fails, in one line
        killer = BackendKiller(pg_admin_url.replace("postgresql+psycopg2://", "postgresql://"), faulty_db,
                               after_rows_in="outcomes")
        killer.start()
        try:
            with pytest.raises(RunFailed) as failed:
                _stats(settings, instance)
        finally:
            terminated = killer.stop()
        message = str(failed.value)
        assert terminated >= 3 and "\n" not in message, (terminated, message)
        assert "terminat" in message.lower() or "connection" in message.lower(), message
        # no partition is half-written: each has all of a clean run's rows or none
        faulty = open_warehouse(faulty_url)
        written = partition_counts(faulty)
        assert written, "no partition was committed before the connections were terminated"
        assert len(written) < len(expected_counts), "the run was not stopped part-way"
        for key, rows in written.items():
            assert rows == expected_counts.get(key), (key, rows, expected_counts.get(key))

        # 2. one connection terminated mid-write: retried with backoff, the run succeeds
        killer = BackendKiller(pg_admin_url.replace("postgresql+psycopg2://", "postgresql://"), faulty_db, times=1)
        killer.start()
        try:
            outcome = _stats(settings, instance)
        finally:
            terminated = killer.stop()
        assert terminated == 1
        assert _retries(instance, outcome.run_id) >= 1
        # the rows are a clean run's
        assert_same_rows(snapshot(faulty), expected)
    finally:
        for name in names:
            _drop_database(pg_admin_url, name)
