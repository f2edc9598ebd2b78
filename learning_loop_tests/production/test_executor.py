"""Executor selection per deployment, the Celery executor's config, the production instance template,
the warehouse retry policy on the jobs, and `learning-loop worker`'s arguments (fast, no broker)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import dagster as dg
import pytest
import yaml

from learning_loop.cli import main
from learning_loop.cli.workers import worker_argv
from learning_loop.orchestration.executor import celery_config, executor_for
from learning_loop.orchestration.retries import WAREHOUSE_RETRY
from learning_loop.settings import Settings, SettingsError


def _settings(**values: str) -> Settings:
    fields = {name: None for name in Settings.model_fields}
    fields.update(values, cwd=".")
    return Settings.model_construct(**fields)


@pytest.mark.parametrize(("raw", "name"), [(None, "in_process"), ("in_process", "in_process"),
                                           ("multiprocess", "multiprocess"), ("CELERY", "celery"),
                                           ("in-process", "in_process")])
def test_the_setting_picks_the_executor(raw, name):
    assert executor_for(_settings(executor_raw=raw)).name == name


def test_an_unknown_executor_is_a_one_line_settings_error():
    with pytest.raises(SettingsError, match="LEARNING_LOOP_EXECUTOR must be one of in_process, multiprocess, celery"):
        executor_for(_settings(executor_raw="dask"))


def test_celery_config_defaults_come_from_the_settings_and_run_config_overrides_them():
    settings = _settings(celery_broker_raw="pyamqp://guest@mq.internal//", celery_queue_raw="loop")
    assert celery_config(settings) == {"broker": "pyamqp://guest@mq.internal//", "backend": "rpc://",
                                       "config_source": {"task_default_queue": "loop"}}
    assert celery_config(_settings())["broker"] == "pyamqp://guest@127.0.0.1//"
    executor = executor_for(settings.model_copy(update={"executor_raw": "celery"}))
    from dagster._config import process_config

    defaults = process_config(executor.config_schema.config_type, {})
    assert defaults.success and defaults.value["broker"] == "pyamqp://guest@mq.internal//"
    assert defaults.value["config_source"] == {"task_default_queue": "loop"}
    overridden = process_config(executor.config_schema.config_type, {"broker": "redis://cache:6379/0"})
    assert overridden.success and overridden.value["broker"] == "redis://cache:6379/0"


def test_production_template_has_queued_runs_monitoring_and_retries(tmp_path):
    template = resources.files("learning_loop") / "templates" / "dagster.production.yaml"
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    config.pop("storage")  # PostgreSQL storage is exercised by the Celery test
    with dg.instance_for_test(overrides=config, temp_dir=str(tmp_path)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds == 7200
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2


def test_warehouse_jobs_retry_with_backoff():
    from learning_loop.definitions import defs

    for name in ("update_stats", "ingest_landing"):
        assert defs.resolve_job_def(name).op_retry_policy == WAREHOUSE_RETRY
    assert WAREHOUSE_RETRY.max_retries >= 1 and WAREHOUSE_RETRY.backoff == dg.Backoff.EXPONENTIAL
    # exponential: delay × (2ⁿ − 1) ± delay, so the second wait is at least twice the base delay
    assert all(WAREHOUSE_RETRY.calculate_delay(2) >= 2 * WAREHOUSE_RETRY.delay for _ in range(50))


def test_worker_arguments_and_printed_config(capsys, monkeypatch):
    argv = worker_argv(_settings(celery_queue_raw="loop"), concurrency=3, name="w1")
    assert argv[argv.index("--queues") + 1] == "loop" and argv[argv.index("--concurrency") + 1] == "3"
    assert argv[argv.index("--prefetch-multiplier") + 1] == "1"
    monkeypatch.setenv("LEARNING_LOOP_CELERY_QUEUE", "nightly")
    assert main(["worker", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["execution"]["config"]["config_source"] == {"task_default_queue": "nightly"}
    assert main(["worker", "--concurrency", "0"]) == 2
    assert "--concurrency must be at least 1" in capsys.readouterr().err


def test_worker_threads_are_checked_and_limited_for_the_process_and_its_children(capsys):
    assert main(["worker", "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err
    # in a child process: the limit must not leak into this test process
    code = (
        "import numpy, os, threadpoolctl\n"
        "from learning_loop.cli.workers import limit_numeric_threads\n"
        "limit_numeric_threads(1)\n"
        "pools = threadpoolctl.threadpool_info()\n"
        "assert pools and all(p['num_threads'] == 1 for p in pools), pools\n"
        "assert os.environ['OMP_NUM_THREADS'] == os.environ['OPENBLAS_NUM_THREADS'] == '1'\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if all(p['num_threads'] == 1 for p in threadpoolctl.threadpool_info()) else 3)\n"
        "assert os.waitpid(pid, 0)[1] == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
