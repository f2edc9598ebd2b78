"""The background jobs' schedules (SPEC §13): cron strings, UTC, run requests, skipping while paused;
the runbook alerts as checks of `background_job_health`."""

from datetime import datetime, timezone

import dagster as dg
import pandas as pd

from learning_loop.defs.jobs.cleanup import cleanup_schedule
from learning_loop.defs.jobs.health import background_job_health
from learning_loop.defs.jobs.prompt_optimization import prompt_optimization_schedule
from learning_loop.defs.jobs.rag_training import rag_training_schedule
from learning_loop.definitions import defs
from learning_loop.domain.jobs.catalog import JOBS
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores import learning_state
from learning_loop_tests.defs.jobs_helpers import materialize

TICK = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def test_every_spec_job_has_its_schedule_job_and_timeout_tag():
    for spec in JOBS:
        schedule = defs.resolve_schedule_def(spec.schedule_name)
        assert (schedule.cron_schedule, schedule.execution_timezone) == (spec.cron, "UTC")
        assert schedule.job_name == spec.job_name
        job = defs.resolve_job_def(spec.job_name)
        if spec.name != "ab_analysis":  # issue 3's job, unchanged
            assert job.tags["dagster/max_runtime"] == str(spec.timeout_s)


SCHEDULES = [(prompt_optimization_schedule, "prompt_optimization_runs"), (rag_training_schedule, "rag_training_set"),
             (cleanup_schedule, "feedback_archive")]


def test_runs_as_of_the_tick_and_skips_while_paused(warehouse, warehouse_url):
    resources = {"warehouse": WarehouseResource(url=warehouse_url)}
    for schedule, asset in SCHEDULES:
        with dg.build_schedule_context(scheduled_execution_time=TICK, resources=resources) as ctx:
            request = schedule.evaluate_tick(ctx).run_requests[0]
        assert request.run_config == {"ops": {asset: {"config": {"as_of": "2026-03-02T02:00:00+00:00"}}}}
    with warehouse.transaction() as tx:
        learning_state.set_paused(tx, paused=True, reason="labels look wrong", actor="ops", ran_as="test",
                                  at=datetime(2026, 3, 1))
    for schedule, _ in SCHEDULES:
        with dg.build_schedule_context(scheduled_execution_time=TICK, resources=resources) as ctx:
            result = schedule.evaluate_tick(ctx)
        assert not result.run_requests and "labels look wrong" in result.skip_message


def test_health_checks_warn_on_failed_runs_and_stale_rag_pairs(warehouse, warehouse_url):
    instance = dg.DagsterInstance.ephemeral()
    for success in (True, False):
        @dg.op(name="step")
        def step():
            if not success:
                raise RuntimeError("boom")

        @dg.job(name="rag_training")
        def job():
            step()

        job.execute_in_process(instance=instance, raise_on_error=False)
    with warehouse.transaction() as tx:
        tx.insert_df("retrieval_pairs", pd.DataFrame([{"query": "q", "document": "d", "relevant": 1,
                                                       "observed_at": datetime(2020, 1, 1),
                                                       "loaded_at": datetime(2020, 1, 1)}]))
    result = materialize(background_job_health, {"warehouse": WarehouseResource(url=warehouse_url)},
                         instance=instance)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {"failed_run_rate", "scheduled_jobs_fresh", "rag_pairs_growing"}
    assert not checks["failed_run_rate"].passed  # 1 of 2 failed
    assert checks["failed_run_rate"].severity == dg.AssetCheckSeverity.WARN
    assert not checks["rag_pairs_growing"].passed
    assert checks["scheduled_jobs_fresh"].passed  # no schedule running on an ephemeral instance
