"""The simulator's adapter to the platform: the same public interfaces an operator uses.

Every call runs a Dagster job of the code location (or a read-only view) with
the simulation's own settings: its runtime folder, its DuckDB warehouse and
its own Dagster instance. Nothing here changes the process environment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from learning_loop.orchestration.instance import get_instance
from learning_loop.orchestration.runner import RunOutcome, run_job
from learning_loop.settings import Settings
from learning_loop.views.planning import experiments_view
from learning_loop.warehouse.backend import open_warehouse

SIM_TAG = "learning_loop/simulation"
DAY_TAG = "learning_loop/sim_day"


class PlatformAdapter:
    """Runs the platform's jobs for the simulator and records their run ids and durations."""

    def __init__(self, settings: Settings, tags: dict[str, str]) -> None:
        self.settings = settings
        self.tags = dict(tags)
        self.run_ids: dict[str, list[str]] = {}
        self.job_seconds: dict[str, float] = {}
        self._instance: dg.DagsterInstance | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold the simulation's Dagster instance open for the whole simulation."""
        self._instance = get_instance(self.settings)
        try:
            yield
        finally:
            self._instance.dispose()
            self._instance = None

    def run(self, job: str, day: date | None = None, **kwargs: Any) -> RunOutcome:
        tags = {**self.tags, **({DAY_TAG: day.isoformat()} if day else {}), **kwargs.pop("tags", {})}
        started = time.monotonic()
        outcome = run_job(job, settings=self.settings, instance=self._instance, tags=tags, **kwargs)
        self.job_seconds[job] = self.job_seconds.get(job, 0.0) + time.monotonic() - started
        self.run_ids.setdefault(job, []).append(outcome.run_id)
        return outcome

    def plan(self, project_id: str, topics_file: Path, count: int, as_of: str, seed: int, day: date) -> dict[str, Any]:
        """`plan-next` for the day: the plan's JSON (SPEC §5)."""
        config = {"project_id": project_id, "topics_file": str(topics_file), "count": count, "as_of": as_of, "seed": seed}
        outcome = self.run(
            "plan_next_batch",
            day,
            run_config={"ops": {"plan_next_batch_op": {"config": config}}},
            tags={"learning_loop/project": project_id},
            output_of="plan_next_batch_op",
        )
        return outcome.output

    def ingest_and_update(self, partition: date) -> None:
        """`ingest`, then `update-stats --date <partition>`."""
        self.run("ingest_landing", partition)
        self.run("update_stats", partition, partition_key=partition.isoformat())

    def experiments(self, project_id: str) -> list[dict[str, Any]]:
        """What `learning-loop experiments --project P --json` prints, from the same view function."""
        return experiments_view(open_warehouse(self.settings.warehouse_url), project_id)["experiments"]

    def materialise_report(self, csv_path: Path, png_path: Path | None, day: date) -> None:
        """Record the report's latest day as `simulation_report` metadata (plotted per simulated day)."""
        config = {"report_csv": str(csv_path), "plot_png": str(png_path) if png_path else ""}
        self.run(
            "simulation_report_job", day, partition_key=day.isoformat(),
            run_config={"ops": {"simulation_report": {"config": config}}},
        )
