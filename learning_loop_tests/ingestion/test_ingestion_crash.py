"""`learning-loop ingest` killed with SIGKILL in the middle of an ingestion (DuckDB).

The CLI runs in its own process group on a LEARNING_LOOP_HOME under tmp. It is
killed once its run has started the ingestion step and the batch of small
files has committed, while the big file is being loaded. After that: the
ledger names exactly the files whose rows are in the warehouse (each batch is
one transaction: its rows, quarantine rows and ledger rows commit together),
the next ingestion loads the rest, and the rows equal a clean ingestion of the
same files, with rows_read = rows_loaded + rows_quarantined for every file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from learning_loop.ingestion.landing import ingest_landing
from learning_loop.warehouse.backend import Warehouse, open_warehouse

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIG_ROWS = 60_000
TABLES = ("videos", "metric_snapshots", "quarantine", "ingested_files")
VOLATILE = {"loaded_at", "quarantined_at", "mtime_ns", "size_bytes"}


def _videos(ids: range) -> pd.DataFrame:
    return pd.DataFrame({
        "project_id": "proj", "video_id": [f"v{i}" for i in ids], "published_at": "2024-01-05T10:00:00Z",
        "topic": [f"topic {i % 50}" for i in ids], "preset": "DARK_DYSTOPIAN_ANIME", "hook_type": "question",
        "scene_count": [str(5 + i % 7) for i in ids],  # 11 is out of range: some rows are quarantined
        "ending_type": "loop", "narration_wpm": "140", "caption_density": "0.4",
    })


def _metrics(ids: np.ndarray, hour: int) -> pd.DataFrame:
    views = 100 + ids % 1000
    return pd.DataFrame({
        "project_id": "proj", "video_id": [f"v{i}" for i in ids], "observed_at": f"2024-01-06T{hour:02d}:00:00Z",
        "views": np.where(ids % 97 == 0, -1, views),  # negative counts: quarantined
        "likes": views // 10, "comments": views // 50, "avg_view_duration_s": 12.5,
    })


def _land(root: Path) -> list[str]:
    """Three small video and metric files, then one big metric file; returns the names in load order."""
    (root / "videos").mkdir(parents=True)
    (root / "metrics").mkdir(parents=True)
    names = []
    for n in range(3):
        _videos(range(n * 100, n * 100 + 100)).to_csv(root / "videos" / f"a{n}.csv", index=False)
        names.append(f"videos/a{n}.csv")
    for n in range(3):
        _metrics(np.arange(300), n).to_csv(root / "metrics" / f"a{n}.csv", index=False)
        names.append(f"metrics/a{n}.csv")
    # one more column than the small files: a different header starts a batch of its own
    big = _metrics(np.arange(BIG_ROWS) % 300 + 1000 * (np.arange(BIG_ROWS) // 300), 12).assign(shares=3)
    big.to_csv(root / "metrics" / "z_big.csv", index=False)
    names.append("metrics/z_big.csv")
    return names


def _rows(wh: Warehouse) -> dict[str, tuple]:
    """Per table: row count and two order-independent sums of the rows' hashes (volatile columns
    left out): equal for equal multisets of rows, computed inside DuckDB."""
    out = {}
    for table in TABLES:
        columns = [c for c in wh.query_df(f"SELECT * FROM {table} LIMIT 0").columns if c not in VOLATILE]
        row = ", ".join(f'"{c}"' for c in columns)
        out[table] = tuple(wh.query_df(
            f"SELECT count(*) AS n, sum(hash({row})::HUGEINT) AS h1, sum(hash({row}, 'salt')::HUGEINT) AS h2 FROM {table}"
        ).iloc[0].astype(str))
    return out


def _assert_ledger_matches_tables(wh: Warehouse) -> set[str]:
    """Every ledger row accounts for its file's rows exactly; no row comes from an unrecorded file."""
    ledger = wh.query_df("SELECT kind, file_name, status, rows_read, rows_loaded, rows_quarantined FROM ingested_files")
    assert (ledger["status"] == "loaded").all()
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    for kind, table in (("videos", "videos"), ("metrics", "metric_snapshots")):
        stored = wh.query_df(f"SELECT source_file, count(*) AS n FROM {table} GROUP BY source_file")
        stored = dict(zip(stored["source_file"], stored["n"].astype(int)))
        quarantined = wh.query_df("SELECT file_name, count(*) AS n FROM quarantine WHERE kind = :k GROUP BY file_name", {"k": kind})
        quarantined = dict(zip(quarantined["file_name"], quarantined["n"].astype(int)))
        entries = ledger[ledger["kind"] == kind]
        assert set(stored) | set(quarantined) <= set(entries["file_name"])
        for entry in entries.itertuples(index=False):  # ids are unique per file: nothing superseded
            assert stored.get(entry.file_name, 0) == entry.rows_loaded
            assert quarantined.get(entry.file_name, 0) == entry.rows_quarantined
    return {f"{k}/{n}" for k, n in zip(ledger["kind"], ledger["file_name"])}


def test_sigkill_mid_ingestion_loses_nothing_and_the_next_run_equals_a_clean_one(tmp_path: Path):
    home = tmp_path / "home"
    names = _land(home / "landing")
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEARNING_LOOP_", "DAGSTER_"))}
    env.update(LEARNING_LOOP_HOME=str(home), LEARNING_LOOP_WAREHOUSE_URL=url, DAGSTER_HOME=str(home / "dagster"),
               LEARNING_LOOP_LANDING_SETTLE_SECONDS="0", PYTHONWARNINGS="ignore", PYTHONPATH=str(REPO))
    log = tmp_path / "ingest.log"
    cli = Path(sys.executable).with_name("learning-loop")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "learning_loop.cli"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*command, "ingest", "--verbose"], env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120

        def wait_for(text: bytes) -> None:
            while text not in log.read_bytes():
                assert proc.poll() is None, f"ingestion ended before it could be killed:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.02)

        wait_for(b"videos/a0.csv: loaded")  # the run's ingestion step has started (checked below)
        # the small files' batches committed (logged after each commit): the big file's is under way
        wait_for(b"metrics/a2.csv: loaded")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:  # killed inside the step
        (run,) = instance.get_runs()
        events = {e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event}
        assert dg.DagsterEventType.STEP_START in events and dg.DagsterEventType.STEP_SUCCESS not in events

    crashed = open_warehouse(url)  # replays the WAL: committed batches only
    loaded = _assert_ledger_matches_tables(crashed)
    assert loaded == set(names[:-1]), loaded  # exactly the small files; nothing of the big one
    assert crashed.scalar("SELECT count(*) FROM metric_snapshots WHERE source_file = 'z_big.csv'") == 0

    report = ingest_landing(crashed, home / "landing")  # the next run
    assert [(f"{f.kind}/{f.file_name}", f.status) for f in report.files] == [
        (name, "skipped" if name in loaded else "loaded") for name in names]
    assert _assert_ledger_matches_tables(crashed) == set(names)

    clean = open_warehouse(f"duckdb:///{tmp_path / 'clean.duckdb'}")
    ingest_landing(clean, home / "landing")
    expected = _rows(clean)
    assert _rows(crashed) == expected
    assert float(expected["quarantine"][0]) > 0 and float(expected["metric_snapshots"][0]) > BIG_ROWS * 0.9
