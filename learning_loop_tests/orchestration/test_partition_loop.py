"""The shared daily partition loop: every partition of a single-run backfill gets its own plottable numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from learning_loop.defs.core.sql_assets import sql_assets
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop_tests.helpers import DAILY, load, snap, video


def test_single_run_backfill_records_each_partitions_numbers(warehouse, warehouse_url):
    # one more mature video every day: each partition scores a different number of videos
    videos, snaps = [], []
    for i in range(4):
        pub = datetime(2024, 1, 5) + timedelta(days=i, hours=1)
        videos.append(video("p", f"v{i}", pub))
        snaps.append(snap("p", f"v{i}", pub + timedelta(hours=7), 100 + i))
    load(warehouse, videos, snaps)
    assets = [a for a in sql_assets() if a.key.to_user_string() in DAILY]
    job = dg.Definitions(assets=assets, resources={"warehouse": WarehouseResource(url=warehouse_url)}).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: "2024-01-05", ASSET_PARTITION_RANGE_END_TAG: "2024-01-08"},
        )
        assert result.success
        latest = {}
        for record in instance.fetch_materializations(dg.AssetKey("percentile_rewards"), limit=100).records:
            latest.setdefault(record.partition_key, record.asset_materialization.metadata)
        assert sorted(latest) == ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]
        scored = [latest[k]["scored_videos"].value for k in sorted(latest)]
        assert scored == [1.0, 2.0, 3.0, 4.0]  # each partition's own value, not the run's last
        assert all(latest[k]["dagster/row_count"].value == n for k, n in zip(sorted(latest), [1, 2, 3, 4]))
        # the run's own result still carries the run totals and the combined checks
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)
