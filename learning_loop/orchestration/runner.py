"""Launch the code location's jobs on the configured Dagster instance.

State-changing CLI commands go through here, so every change is a Dagster run
that shows in the web UI with its logs, metadata and checks.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.utils import make_new_run_id

from learning_loop.orchestration.instance import get_instance
from learning_loop.orchestration.progress import watch_run
from learning_loop.orchestration.resources import resources_for
from learning_loop.settings import Settings


class RunFailed(RuntimeError):
    """A Dagster run ended without success."""


@dataclass
class RunOutcome:
    run_id: str
    job_name: str
    success: bool
    materializations: dict[str, dict[str, Any]]
    output: Any = None


def root_cause(error: Any) -> str:
    """The first error that went wrong, in one line: past Dagster's wrappers (`raise … from`), and past
    errors raised while handling it (a rollback on a dropped connection says "connection already
    closed"; the reason is the error it was handling)."""
    seen = 0
    while seen < 50:
        seen += 1
        if getattr(error, "cause", None) is not None:
            error = error.cause
        elif getattr(error, "context", None) is not None:
            error = error.context
        else:
            break
    lines = [line for line in (error.message or "").strip().splitlines() if line.strip()]
    return lines[0] if lines else "run failed"


def _definitions() -> dg.Definitions:
    from learning_loop.definitions import defs

    return defs


def run_job(
    job_name: str,
    *,
    settings: Settings,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    run_config: dict[str, Any] | dg.RunConfig | None = None,
    tags: dict[str, str] | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "CRITICAL",
    output_of: str | None = None,
    asset_selection: list[str] | None = None,
    progress: str | None = None,
) -> RunOutcome:
    """Run a job in this process on the instance of `settings` (or the given one), with the
    warehouse and runtime folder of `settings`; a failure raises RunFailed with the first error.

    The console shows Dagster's own log lines only at `log_level` (CRITICAL by default: the run's
    logs, stack traces included, stay in the instance and the web UI; the CLI's `--verbose` asks
    for INFO). With `progress` (a label), the run's progress is shown on stderr while it runs."""
    if asset_selection:
        # a subset re-binds the job's assets: their resources must be the ones bound to the definitions
        from learning_loop.definitions import build_definitions

        job = build_definitions(resources_for(settings)).resolve_job_def(job_name)
    else:
        job = _definitions().resolve_job_def(job_name)
    run_tags = {"learning_loop/launched_by": "cli", **(tags or {})}
    if partition_range is not None:
        start, end = partition_range
        run_tags[ASSET_PARTITION_RANGE_START_TAG] = start
        run_tags[ASSET_PARTITION_RANGE_END_TAG] = end
    config = dict(run_config.to_config_dict() if isinstance(run_config, dg.RunConfig) else (run_config or {}))
    if not config.get("loggers"):  # a RunConfig (or a schedule's request) carries an empty `loggers`
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    own_instance = instance is None
    instance = instance or get_instance(settings)
    run_id = make_new_run_id()
    steps = len(asset_selection) if asset_selection else len(job.graph.nodes)
    watching = watch_run(instance, run_id, progress, steps) if progress else nullcontext()
    try:
        with watching:
            result = job.execute_in_process(
                run_id=run_id,
                instance=instance,
                resources=None if asset_selection else resources_for(settings),
                partition_key=partition_key,
                run_config=config,
                tags=run_tags,
                asset_selection=[dg.AssetKey(key) for key in asset_selection] if asset_selection else None,
                raise_on_error=False,
            )
    finally:
        if own_instance:
            instance.dispose()
    materializations: dict[str, dict[str, Any]] = {}
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.step_materialization_data.materialization
            # the first event per asset is the run's result; per-partition events of a range follow it
            materializations.setdefault(mat.asset_key.to_user_string(), {k: v.value for k, v in mat.metadata.items()})
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        message = root_cause(failures[0].step_failure_data.error) if failures else "run failed"
        raise RunFailed(f"run {result.run_id} of {job_name} failed: {message}")
    output = result.output_for_node(output_of) if output_of else None
    return RunOutcome(result.run_id, job_name, True, materializations, output)
