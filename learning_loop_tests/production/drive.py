"""Run one job of the code location with its configured executor, on `$DAGSTER_HOME`'s instance.

`python -m learning_loop_tests.production.drive '{"job": "update_stats", "partition_key": "2024-01-10"}'`
prints `{"run_id": …, "success": …, "error": …}` as its last line; with `"retry_from_failure": true`
a failed run is re-executed from its failure and a second such line follows. Used by the production tests as
the orchestrating process (the run worker a run launcher would start).
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import dagster as dg

from learning_loop.orchestration.runner import root_cause


def run_failure_cause(result: Any) -> str:
    """Why a run failed, in one line: the first failed step's root cause (`runner.root_cause`), or
    for an executor error (a Celery worker lost mid-step) the first worker's error instead of
    dagster-celery's "errors occurred in workers:" header."""
    failures = [e for e in result.all_events if e.is_step_failure]
    if failures:
        return root_cause(failures[0].step_failure_data.error)
    for event in result.all_events:
        data = event.job_failure_data if event.event_type == dg.DagsterEventType.RUN_FAILURE else None
        if data is not None and data.error is not None:
            error = data.error
            while error.cause is not None:
                error = error.cause
            lines = [line.strip() for line in (error.message or "").splitlines() if line.strip()]
            if len(lines) > 1 and lines[0].endswith("errors occurred in workers:"):
                return lines[1]
            return root_cause(data.error)
    return "run failed"


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    from learning_loop.orchestration.executor import execute_on_instance

    spec = json.loads(argv[0])
    job = spec.pop("job")
    if "partition_range" in spec:
        spec["partition_range"] = tuple(spec["partition_range"])
    retry = spec.pop("retry_from_failure", False)
    with dg.DagsterInstance.get() as instance:
        result = execute_on_instance(job, instance=instance, **spec)
        error = None if result.success else run_failure_cause(result)
        print(json.dumps({"run_id": result.run_id, "success": result.success, "error": error}), flush=True)
        if retry and not result.success:
            # what the instance's run retries do (FROM_FAILURE), in the same process to save a start-up
            again = execute_on_instance(job, instance=instance, from_failure_of=result.run_id)
            error = None if again.success else run_failure_cause(again)
            print(json.dumps({"run_id": again.run_id, "success": again.success, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
