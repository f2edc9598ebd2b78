"""The runner the CLI launches jobs with: settings' resources, asset subsets, one-line failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from learning_loop.orchestration.runner import RunFailed, run_job
from learning_loop.settings import Settings


def test_a_subset_of_a_job_runs_with_the_given_settings(tmp_path: Path):
    settings = Settings.for_home(tmp_path / "home")
    outcome = run_job("update_stats", settings=settings, partition_key="2024-01-05",
                      asset_selection=["outcomes", "percentile_rewards"])
    assert sorted(outcome.materializations) == ["outcomes", "percentile_rewards"]
    assert (tmp_path / "home" / "warehouse.duckdb").exists()  # the settings' warehouse, not the location's


def test_a_failed_run_raises_one_line_with_the_root_cause(tmp_path: Path):
    settings = Settings.for_home(tmp_path / "home")
    config = {"ops": {"plan_next_batch_op": {"config": {"project_id": "nosuch", "topics": ["a"], "count": 1}}}}
    with pytest.raises(RunFailed) as failed:
        run_job("plan_next_batch", settings=settings, run_config=config)
    message = str(failed.value)
    assert "\n" not in message and "no recipe stats for project 'nosuch'" in message
