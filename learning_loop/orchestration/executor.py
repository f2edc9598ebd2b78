"""The executor of the code location's jobs, picked per deployment by `LEARNING_LOOP_EXECUTOR`.

| value | steps run | needs |
|---|---|---|
| `in_process` (default) | one after another in the run's process | nothing (one machine, DuckDB or PostgreSQL) |
| `multiprocess` | one process per step on the run's machine | a persistent instance |
| `celery` | on `dagster-celery` workers (`learning-loop worker`) | a broker, PostgreSQL instance + warehouse |

The Celery executor's config (broker, result backend, queue) defaults to the deployment's
settings (`LEARNING_LOOP_CELERY_BROKER`, `_BACKEND`, `_QUEUE`), and a run's config
(`execution: config: …`) may still override it, so nothing in the code changes between a
laptop and a cluster. The CLI's own runs (`orchestration.runner.run_job`) always run in
process; runs launched by the daemon, the web UI or `execute_on_instance` use this executor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from learning_loop.settings import Settings

#: Tags that say which partitions a run covers (kept when a run is re-executed).
PARTITION_TAGS = frozenset({"dagster/partition", ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG})
#: Module and attribute of the code location (`[tool.dagster]` in pyproject.toml).
LOCATION_MODULE, LOCATION_ATTRIBUTE = "learning_loop.definitions", "defs"


def celery_config(settings: Settings) -> dict[str, Any]:
    """The `execution: config:` block of the Celery executor for these settings; workers started
    with the same block (`learning-loop worker`) pick up the steps."""
    return {
        "broker": settings.celery_broker,
        "backend": settings.celery_backend,
        "config_source": {"task_default_queue": settings.celery_queue},
    }


def celery_executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """dagster-celery's executor whose config defaults come from the settings (run config may override)."""
    from dagster_celery import celery_executor
    from dagster_celery.executor import CELERY_CONFIG

    defaults = celery_config(settings)
    schema = dict(CELERY_CONFIG)
    for key in ("broker", "backend", "config_source"):
        field = CELERY_CONFIG[key]
        schema[key] = dg.Field(field.config_type, is_required=False, default_value=defaults[key],
                               description=field.description)
    return dg.ExecutorDefinition(
        name="celery",
        config_schema=schema,
        requirements=dg.multiple_process_executor_requirements(),
        executor_creation_fn=celery_executor.executor_creation_fn,
        description="dagster-celery executor with the deployment's broker, backend and queue as defaults.",
    )


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """The executor `LEARNING_LOOP_EXECUTOR` names."""
    kind = settings.executor
    if kind == "multiprocess":
        return dg.multiprocess_executor
    if kind == "celery":
        return celery_executor_for(settings)
    return dg.in_process_executor


def reconstructable_job(job_name: str, working_directory: str | Path | None = None) -> ReconstructableJob:
    """A pointer to a job of the code location that other processes (Celery workers) can load."""
    repo = ReconstructableRepository.for_module(
        LOCATION_MODULE, LOCATION_ATTRIBUTE, working_directory=str(working_directory or os.getcwd())
    )
    return repo.get_reconstructable_job(job_name)


def execute_on_instance(
    job_name: str,
    *,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    from_failure_of: str | None = None,
) -> dg.JobExecutionResult:
    """Run a job with the code location's own executor (not in process): with `celery`, this process
    orchestrates and the steps run on the workers. `from_failure_of` re-executes a failed run from its
    failed steps (what the instance's run retries do). The caller checks `.success`."""
    run_tags = {"learning_loop/launched_by": "execute_on_instance", **(tags or {})}
    if partition_key is not None:
        run_tags["dagster/partition"] = partition_key
    if partition_range is not None:
        run_tags[ASSET_PARTITION_RANGE_START_TAG], run_tags[ASSET_PARTITION_RANGE_END_TAG] = partition_range
    options = None
    if from_failure_of:
        options = dg.ReexecutionOptions.from_failure(from_failure_of, instance)
        parent = instance.get_run_by_id(from_failure_of)
        # the parent's partition and own tags carry over; Dagster adds the lineage tags
        kept = {k: v for k, v in parent.tags.items() if not k.startswith("dagster/") or k in PARTITION_TAGS}
        run_tags = {**kept, **run_tags}
    return dg.execute_job(
        reconstructable_job(job_name),
        instance=instance,
        run_config=dict(run_config or {}) if options is None else None,
        tags=run_tags,
        reexecution_options=options,
    )
