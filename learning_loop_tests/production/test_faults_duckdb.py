"""A run killed with SIGKILL in the middle of a DuckDB partition write (`update_stats`).

The run's process (forked from the test, so it starts at once) is killed right after a partition
commits, while the next one is being written. DuckDB replays its WAL on the next open: every
partition holds all of a clean run's rows or none (each partition is one transaction), and the
next run gives rows identical to a clean run's.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import time

import dagster as dg
import pytest

from learning_loop.orchestration.runner import run_job
from learning_loop.settings import Settings
from learning_loop.warehouse.backend import open_warehouse
from learning_loop_tests.production.cluster import land_sample
from learning_loop_tests.production.faults import assert_same_rows, partition_counts, snapshot

pytestmark = pytest.mark.slow

RANGE = ("2024-01-08", "2024-01-10")


def _doomed_run(settings: Settings, log_path: str) -> None:
    """The run to kill, in a forked child (the code location is already imported): Dagster's
    console log (one line per committed partition) goes to `log_path`."""
    sys.stderr = open(log_path, "w", buffering=1)  # noqa: SIM115 - the process ends by os._exit or SIGKILL
    run_job("update_stats", settings=settings, partition_range=RANGE, log_level="INFO",
            instance=dg.DagsterInstance.ephemeral())
    os._exit(0)


def _stats(settings: Settings) -> None:
    run_job("update_stats", settings=settings, partition_range=RANGE, instance=dg.DagsterInstance.ephemeral())


def test_sigkill_mid_partition_write_leaves_whole_partitions_and_a_rerun_is_clean(tmp_path):
    home = tmp_path / "rt"
    land_sample(home)
    faulty_path, clean_path = tmp_path / "wh.duckdb", tmp_path / "clean.duckdb"
    settings = Settings.for_home(home, warehouse_url_raw=f"duckdb:///{faulty_path}")
    run_job("ingest_landing", settings=settings, instance=dg.DagsterInstance.ephemeral())
    shutil.copy2(faulty_path, clean_path)

    clean_settings = Settings.for_home(home, warehouse_url_raw=f"duckdb:///{clean_path}")
    _stats(clean_settings)
    clean = open_warehouse(f"duckdb:///{clean_path}")
    expected, expected_counts = snapshot(clean), partition_counts(clean)

    log = tmp_path / "run.log"
    log.touch()
    proc = multiprocessing.get_context("fork").Process(target=_doomed_run, args=(settings, str(log)), daemon=True)
    proc.start()
    try:
        # a partition of `outcomes` has committed (logged after its commit): the next is being written
        deadline = time.monotonic() + 60
        while b"(1/3)" not in log.read_bytes():
            assert proc.is_alive(), f"run ended before it could be killed: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=10)
    assert proc.exitcode == -signal.SIGKILL

    faulty = open_warehouse(f"duckdb:///{faulty_path}")  # replays the WAL
    written = partition_counts(faulty)
    assert written and len(written) < len(expected_counts), (written, expected_counts)
    for key, rows in written.items():  # each partition whole or absent
        assert rows == expected_counts.get(key), (key, rows, expected_counts.get(key))

    _stats(settings)
    assert_same_rows(snapshot(faulty), expected)
