"""Runs on real instances: the dagster CLI backfill, concurrent runs on DuckDB, PostgreSQL storage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from learning_loop.settings import Settings
import pytest

from learning_loop.demo import SAMPLE_DIR
from learning_loop.orchestration.instance import ensure_dagster_home
from learning_loop.orchestration.runner import run_job
from learning_loop.warehouse.backend import open_warehouse

BIN = Path(sys.executable).parent


def _env(home: Path, warehouse_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEARNING_LOOP_", "DAGSTER_"))}
    env.update(
        LEARNING_LOOP_HOME=str(home),
        LEARNING_LOOP_WAREHOUSE_URL=warehouse_url,
        DAGSTER_HOME=str(home / "dagster"),
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


def _land_sample(home: Path, weeks: int = 2) -> None:
    for kind in ("videos", "metrics"):
        target = home / "landing" / kind
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((SAMPLE_DIR / kind).glob("*.csv"))[:weeks]:
            shutil.copy2(path, target / path.name)


@pytest.mark.slow
def test_dagster_cli_partition_range_backfill(tmp_path):
    home = tmp_path / "rt"
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    _land_sample(home)
    env = _env(home, url)
    (home / "dagster").mkdir(parents=True)
    common = [str(BIN / "dagster"), "asset", "materialize", "-m", "learning_loop.definitions"]
    ingest = subprocess.run(common + ["--select", "videos,metric_snapshots,quarantine,ingested_files"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    backfill = subprocess.run(
        common + ["--select", "outcomes,percentile_rewards,recipe_stats", "--partition-range", "2024-01-08...2024-01-10"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert backfill.returncode == 0, backfill.stderr[-2000:]
    wh = open_warehouse(url)
    days = wh.query_df("SELECT DISTINCT partition_date FROM recipe_stats ORDER BY 1")["partition_date"]
    assert [str(d)[:10] for d in days] == ["2024-01-08", "2024-01-09", "2024-01-10"]
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        parts = instance.get_materialized_partitions(dg.AssetKey("percentile_rewards"))
    assert parts == {"2024-01-08", "2024-01-09", "2024-01-10"}


def _wait_for_step(dagster_home: Path, job_name: str, proc: subprocess.Popen, timeout: float = 300) -> bool:
    """Poll the instance (not the warehouse: a probe would take the DuckDB lock itself) until a
    run of the job has started a step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED]))
            if runs and instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START):
                return True
        time.sleep(0.1)
    return False


def _big_metrics_file(path: Path, rows: int = 300_000) -> None:
    """Snapshots of videos not seen yet (kept until their video arrives): a slow, valid ingestion."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    views = rng.integers(0, 10_000, rows)
    pd.DataFrame(
        {
            "project_id": "bulk",
            "video_id": [f"bulk-{i // 10:06d}" for i in range(rows)],
            "observed_at": pd.Timestamp("2024-01-02") + pd.to_timedelta(np.arange(rows) % 10, unit="h"),
            "views": views,
            "likes": views // 20,
            "comments": views // 100,
            "avg_view_duration_s": rng.uniform(1, 60, rows).round(2),
        }
    ).to_csv(path, index=False)


#: `learning-loop <argv>` in a process that has done its imports and waits for a line on stdin before running.
_WARM_CLI = (
    "import sys\n"
    "import learning_loop.definitions, learning_loop.orchestration.runner\n"
    "from learning_loop.cli import main\n"
    "sys.stdin.readline()\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _ingest_beside_stats(root: Path, rows: int) -> bool:
    """Ingest a big metrics file and launch update-stats while its step runs; both must succeed.
    Returns whether the stats run had to wait for the `warehouse` pool (whether the runs overlapped)."""
    home = root / "rt"
    db = root / "wh.duckdb"
    _land_sample(home, weeks=2)
    _big_metrics_file(home / "landing" / "metrics" / "2024-01-20_bulk.csv", rows=rows)
    env = _env(home, f"duckdb:///{db}", LEARNING_LOOP_DUCKDB_LOCK_TIMEOUT="0", LEARNING_LOOP_LANDING_SETTLE_SECONDS="0")
    cli = str(BIN / "learning-loop")
    subprocess.run([str(BIN / "python"), "-c", "from learning_loop.orchestration.instance import get_instance; from learning_loop.settings import Settings; get_instance(Settings.from_env())"],
                   env=env, check=True, capture_output=True, timeout=120)
    # The stats CLI (its own process, the console script's `main`) is started first and waits on stdin with its
    # imports done, so it launches its run within a moment of the ingestion's step starting, not seconds later.
    stats = subprocess.Popen([str(BIN / "python"), "-c", _WARM_CLI, "update-stats", "--date", "2024-01-10", "--json"],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ingest = subprocess.Popen([cli, "ingest", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for_step(home / "dagster", "ingest_landing", ingest), "the ingestion never started a step"
        stats_out, stats_err = stats.communicate("go\n", timeout=600)
    finally:
        if stats.poll() is None:
            stats.kill()
        out, err = ingest.communicate(timeout=600)
    assert ingest.returncode == 0, err[-2000:]
    assert stats.returncode == 0, stats_err[-2000:]
    assert json.loads(out)["rows_loaded"] > rows
    report = json.loads(stats_out)
    config = (home / "dagster" / "dagster.yaml").read_text()
    assert "default_limit: 1" in config
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        return any(
            "blocked by limit for pool warehouse" in (r.message or "")
            for r in instance.all_logs(report["run_id"], of_type=dg.DagsterEventType.ENGINE_EVENT)
        )


@pytest.mark.slow
def test_concurrent_runs_share_duckdb_without_lock_failures(tmp_path):
    """The daily stats run launched while the sensor's ingestion holds the DuckDB file must
    wait for the `warehouse` pool slot (limit 1 on the embedded instance) instead of failing
    on the file lock. DuckDB's own lock wait is switched off here (timeout 0), so only
    Dagster's concurrency control stands between the two runs; without the pool limit the
    second run fails with "Could not set lock on file".

    Ingestion is fast, so the stats CLI is started ahead with its imports done and told to go when the
    ingestion's step starts. Should a busy machine still let the ingestion end first, nothing was tested:
    the attempt is repeated with a file three times bigger."""
    waited = False
    for attempt, rows in enumerate((1_000_000, 3_000_000)):
        waited = _ingest_beside_stats(tmp_path / f"attempt-{attempt}", rows)
        if waited:
            break
    assert waited, "the stats run never had to wait for the warehouse pool: the runs did not overlap"


@pytest.mark.postgres
@pytest.mark.slow
def test_graph_on_postgres_instance_and_postgres_warehouse(tmp_path, monkeypatch, pg_admin_url):
    from learning_loop_tests.conftest import _create_database, _drop_database

    names = []
    try:
        instance_db, instance_url = _create_database(pg_admin_url)
        names.append(instance_db)
        warehouse_db, warehouse_url = _create_database(pg_admin_url)
        names.append(warehouse_db)
        home = tmp_path / "rt"
        _land_sample(home)
        monkeypatch.setenv("LEARNING_LOOP_HOME", str(home))
        monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", warehouse_url)
        # dagster-postgres speaks psycopg2; SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3
        instance_url = instance_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        overrides = {"storage": {"postgres": {"postgres_url": instance_url}}}
        with dg.instance_for_test(overrides=overrides) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            ingest = run_job("ingest_landing", settings=Settings.from_env(), instance=instance)
            stats = run_job(
                "update_stats", settings=Settings.from_env(), partition_range=("2024-01-08", "2024-01-10"), instance=instance
            )
            assert instance.get_run_by_id(stats.run_id).status == dg.DagsterRunStatus.SUCCESS
            assert instance.get_materialized_partitions(dg.AssetKey("recipe_stats")) == {
                "2024-01-08", "2024-01-09", "2024-01-10"
            }
            assert ingest.materializations["ingested_files"]["rows_loaded"] > 0
        wh = open_warehouse(warehouse_url)
        assert wh.dialect == "postgresql"
        assert wh.scalar("SELECT count(*) FROM percentile_rewards") > 0
    finally:
        for name in names:
            _drop_database(pg_admin_url, name)


def test_embedded_instance_config_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(tmp_path))
    home = ensure_dagster_home(Settings.from_env())
    assert home == tmp_path / "dagster" and (home / "dagster.yaml").exists()
    assert "DAGSTER_HOME" not in os.environ  # the settings say where it is; nothing is exported
