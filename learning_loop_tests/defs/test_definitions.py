"""The code location loads and wires every asset, check, job, schedule and sensor."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from learning_loop.definitions import defs
from learning_loop.warehouse.sql_models import load_models


def test_definitions_validate():
    dg.Definitions.validate_loadable(defs)


def test_assets_checks_and_lineage():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "videos", "metric_snapshots", "quarantine", "ingested_files",
        "outcomes", "percentile_rewards", "recipe_stats", "recipes",
    } <= keys
    for model in load_models().values():
        node = graph.get(dg.AssetKey(model.name))
        assert node.code_version == model.code_version
        assert {k.to_user_string() for k in node.parent_keys} == set(model.refs)
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("percentile_rewards", "rewards_in_unit_interval") in checks
    assert ("percentile_rewards", "mature_videos_scored_once") in checks
    assert ("percentile_rewards", "percentile_means_half") in checks
    assert ("quarantine", "quarantine_growth") in checks
    outcomes = graph.get(dg.AssetKey("outcomes"))
    assert outcomes.partitions_def is not None
    assert outcomes.backfill_policy == dg.BackfillPolicy.single_run()


def test_jobs_and_schedules():
    assert {"ingest_landing", "update_stats", "backfill_recipes"} <= {j.name for j in defs.resolve_all_job_defs()}
    daily = defs.resolve_schedule_def("update_stats_daily_0200_utc")
    assert daily.cron_schedule == "0 2 * * *"
    assert defs.resolve_schedule_def("ingest_hourly").cron_schedule == "0 * * * *"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2024, 1, 11, 2, 0, tzinfo=timezone.utc)
        )
        requests = daily.evaluate_tick(context).run_requests
        assert [r.partition_key for r in requests] == ["2024-01-10"]  # yesterday's partition at 02:00


# The graph as it stood before the defs folder was reorganised by domain (issue 8): the UI must
# show the same assets, checks, jobs, schedules and sensors; new domains add to these sets.
GRAPH_BEFORE_RESHAPE = {
    "assets": {
        "bandit_arms", "batch_completion", "experiment_verdicts", "experiments", "ingested_files", "metric_snapshots",
        "outcomes", "percentile_rewards", "planned_batches", "predictor_coefficients", "quarantine", "recipe_stats",
        "recipes", "simulation_report", "video_jobs", "videos",
    },
    "checks": {
        "bandit_arms:posterior_matches_counts", "experiments:experiment_backlog", "ingested_files:rows_accounted_for",
        "outcomes:one_row_per_video", "percentile_rewards:mature_videos_scored_once",
        "percentile_rewards:mean_reward_week_over_week", "percentile_rewards:percentile_means_half",
        "percentile_rewards:rewards_in_unit_interval", "planned_batches:latest_batch_created_jobs",
        "predictor_coefficients:one_version_per_project_and_model", "quarantine:quarantine_growth",
    },
    "jobs": {"ab_analysis", "backfill_recipes", "ingest_landing", "plan_next_batch", "simulation_report_job", "update_stats"},
    "schedules": {"ab_analysis_hourly", "ingest_hourly", "plan_next_daily_0600_utc", "update_stats_daily_0200_utc"},
    "sensors": {"landing_sensor"},
}


def test_defs_folder_keeps_the_graph():
    graph = defs.resolve_asset_graph()
    now = {
        "assets": {k.to_user_string() for k in graph.get_all_asset_keys()},
        "checks": {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys},
        "jobs": {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"},
        "schedules": {s.name for s in defs.schedules},
        "sensors": {s.name for s in defs.sensors},
    }
    for kind, before in GRAPH_BEFORE_RESHAPE.items():
        assert before <= now[kind], f"{kind} lost: {sorted(before - now[kind])}"


def test_update_stats_selects_every_daily_asset_by_tag():
    job = defs.resolve_job_def("update_stats")
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert selected == {
        "outcomes", "percentile_rewards", "recipe_stats", "experiment_verdicts", "bandit_arms", "predictor_coefficients"
    }
