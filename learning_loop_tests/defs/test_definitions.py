"""The code location loads and wires every asset, check, job, schedule and sensor."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from learning_loop.definitions import defs
from learning_loop.sql_models import load_models


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
