"""The daily job on a real dagster-celery worker: RabbitMQ broker, PostgreSQL instance, PostgreSQL warehouse.

The run is orchestrated by its own process with `LEARNING_LOOP_EXECUTOR=celery` (as a run
launched by the daemon would be); its steps must run in the worker's pool processes, not in
the orchestrator. A worker whose pool process is killed (SIGKILL) mid-step fails the run with
a one-line cause, and re-executing the run from its failure (what the instance's run retries
do) completes it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from learning_loop.defs.predictors.coefficients import mapping_keys
from learning_loop.orchestration.runner import run_job
from learning_loop.settings import Settings
from learning_loop.warehouse.backend import open_warehouse
from learning_loop_tests.conftest import _create_database, _drop_database
from learning_loop_tests.production.cluster import (
    celery_worker,
    cluster_env,
    delete_queue,
    land_sample,
    orchestrator_result,
    orchestrator_results,
    require_rabbitmq,
    start_orchestrator,
    unique_queue,
    wait_ready,
    write_production_instance,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PARTITION = "2024-01-10"
#: the single-op assets' steps and the predictor graph's own steps (its fit steps are one per project)
DAILY_STEPS = {"outcomes", "percentile_rewards", "recipe_stats", "experiment_verdicts", "bandit_arms",
               "predictor_coefficients.predictor_projects", "predictor_coefficients.write_predictor_coefficients"}
FIT_STEP = "predictor_coefficients.fit_project_predictors[{}]"


def _parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _step_events(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> dict[str, int]:
    """step key → pid of the process that logged the event."""
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return {r.event_log_entry.dagster_event.step_key: r.event_log_entry.dagster_event.pid for r in records}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, pg_admin_url):
    """A worker (2 pool processes) on a queue of its own, the sample data ingested into a PostgreSQL
    warehouse, and a PostgreSQL instance from the production template; shared by this module's tests
    (each runs its own partition). The worker's process group is killed at the end."""
    require_rabbitmq()
    tmp = tmp_path_factory.mktemp("celery")
    names = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            instance_db, instance_url = _create_database(pg_admin_url)
            names.append(instance_db)
            warehouse_db, warehouse_url = _create_database(pg_admin_url)
            names.append(warehouse_db)
            home = tmp / "rt"
            land_sample(home)
            write_production_instance(home / "dagster")
            queue = unique_queue()
            env = cluster_env(home, warehouse_url, instance_url, queue)
            for key in ("LEARNING_LOOP_HOME", "LEARNING_LOOP_WAREHOUSE_URL", "DAGSTER_HOME", "DAGSTER_PG_URL"):
                monkeypatch.setenv(key, env[key])
            instance = dg.DagsterInstance.from_config(str(home / "dagster"))
            try:
                # the template's instance: PostgreSQL storage, queued runs, run monitoring and retries
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
                assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
                assert instance.run_monitoring_enabled and instance.run_retries_enabled
                assert instance.run_retries_max_retries == 2
                with celery_worker(env, tmp / "worker.log", concurrency=2, wait=False) as worker:
                    run_job("ingest_landing", settings=Settings.from_env(), instance=instance)  # while it starts
                    wait_ready(worker, tmp / "worker.log")
                    yield {"env": env, "instance": instance, "tmp": tmp, "worker": worker,
                           "warehouse_url": warehouse_url}
            finally:
                instance.dispose()
                delete_queue(queue)
        finally:
            for name in names:
                _drop_database(pg_admin_url, name)


def test_daily_job_steps_run_in_the_celery_worker(cluster):
    env, instance, tmp, worker = cluster["env"], cluster["instance"], cluster["tmp"], cluster["worker"]
    orchestrator = start_orchestrator(env, tmp / "run.log", "update_stats", partition_key=PARTITION)
    result = orchestrator_result(orchestrator, tmp / "run.log", timeout_s=150)
    assert result["success"], result
    starts = _step_events(instance, result["run_id"], dg.DagsterEventType.STEP_START)
    successes = _step_events(instance, result["run_id"], dg.DagsterEventType.STEP_SUCCESS)
    # every step of the daily job ran, in a pool process of the worker, none in the orchestrator
    assert DAILY_STEPS <= set(successes), successes
    wh = open_warehouse(cluster["warehouse_url"])
    projects = wh.query_df("SELECT DISTINCT project_id FROM outcomes WHERE partition_date = :d", {"d": PARTITION})
    fits = {FIT_STEP.format(key) for key in mapping_keys(sorted(projects["project_id"])).values()}
    assert len(fits) > 1 and {k for k in successes if k.startswith(FIT_STEP[:-3])} == fits, successes
    assert orchestrator.pid not in set(starts.values())
    assert {_parent_pid(pid) for pid in starts.values()} == {worker.pid}, (starts, worker.pid)
    engine = instance.get_records_for_run(result["run_id"], of_type=dg.DagsterEventType.ENGINE_EVENT).records
    messages = [r.event_log_entry.dagster_event.message or "" for r in engine]
    assert sum("in celery worker" in m for m in messages) >= len(DAILY_STEPS | fits), messages
    assert wh.scalar("SELECT count(*) FROM recipe_stats WHERE partition_date = :d", {"d": PARTITION}) > 0


def test_worker_killed_mid_step_fails_the_run_and_a_retry_completes(cluster):
    env, instance, tmp, worker = cluster["env"], cluster["instance"], cluster["tmp"], cluster["worker"]
    partition = "2024-01-09"
    log = tmp / "killed.log"
    orchestrator = start_orchestrator(env, log, "update_stats", partition_key=partition, retry_from_failure=True)
    # wait for the first step to start in the worker, then SIGKILL the pool process running it
    deadline, killed = time.monotonic() + 90, None
    while killed is None and time.monotonic() < deadline and orchestrator.poll() is None:
        runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}))
        if runs:
            starts = _step_events(instance, runs[-1].dagster_run.run_id, dg.DagsterEventType.STEP_START)
            if starts:
                killed = next(iter(starts.values()))
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed is not None, log.read_text()[-2000:]
    # the orchestrator re-executes the failed run from its failure, as the instance's run retries do
    failed, retried = orchestrator_results(orchestrator, log, timeout_s=150)
    assert not failed["success"]
    assert instance.get_run_by_id(failed["run_id"]).status == dg.DagsterRunStatus.FAILURE
    error = failed["error"]  # one line: the worker's error, not dagster-celery's header
    assert "\n" not in error and "WorkerLostError" in error and "SIGKILL" in error, error
    assert worker.poll() is None  # the worker itself lives on and forks a new pool process
    assert retried["success"], retried
    assert instance.get_run_by_id(retried["run_id"]).parent_run_id == failed["run_id"]
    starts = _step_events(instance, retried["run_id"], dg.DagsterEventType.STEP_START)
    assert "outcomes" in starts and killed not in set(starts.values())


@pytest.mark.benchmark
def test_worker_lost_entirely_is_failed_by_run_monitoring_and_a_retry_completes(cluster):
    """The whole worker (main process and pool) dies mid-step: no result ever comes back, so the run
    would wait forever. Run monitoring's runtime limit (the run's `dagster/max_runtime` tag; the daemon
    checks every `poll_interval_seconds`, here its check is called directly) marks it failed, and a
    re-execution from the failure on a new worker completes. Excluded by default (≈ 60 s, and it calls
    the daemon's monitoring function rather than running the daemon)."""
    import logging

    from dagster._daemon.monitoring.run_monitoring import check_run_timeout

    from learning_loop.orchestration.executor import celery_config

    env, instance, tmp = dict(cluster["env"]), cluster["instance"], cluster["tmp"]
    env["LEARNING_LOOP_CELERY_QUEUE"] = queue = unique_queue()  # not the module worker's queue
    run_config = {"execution": {"config": celery_config(Settings.from_env().model_copy(
        update={"celery_queue_raw": queue, "celery_broker_raw": env["LEARNING_LOOP_CELERY_BROKER"]}))}}
    partition = "2024-01-08"
    log = tmp / "lost.log"
    with celery_worker(env, tmp / "doomed.log", concurrency=1, name="doomed") as doomed:
        orchestrator = start_orchestrator(env, log, "update_stats", partition_key=partition, run_config=run_config,
                                          tags={"dagster/max_runtime": "5"})
        try:
            deadline, run_id = time.monotonic() + 90, None
            while run_id is None and time.monotonic() < deadline:
                runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}))
                if runs and _step_events(instance, runs[0].dagster_run.run_id, dg.DagsterEventType.STEP_START):
                    run_id = runs[0].dagster_run.run_id
                time.sleep(0.05)
            assert run_id is not None, log.read_text()[-2000:]
            os.killpg(doomed.pid, signal.SIGKILL)  # worker and pool gone, the step's result never comes
            time.sleep(6)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # still waiting
            check_run_timeout(instance, instance.get_run_record_by_id(run_id), logging.getLogger("monitor"), 7200)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        finally:
            orchestrator.kill()
            orchestrator.wait(timeout=10)
    try:
        with celery_worker(env, tmp / "fresh.log", concurrency=1, name="fresh"):
            retry_log = tmp / "lost_retry.log"
            retry = start_orchestrator(env, retry_log, "update_stats", from_failure_of=run_id)
            retried = orchestrator_result(retry, retry_log, timeout_s=120)
            assert retried["success"], retried
    finally:
        delete_queue(queue)
