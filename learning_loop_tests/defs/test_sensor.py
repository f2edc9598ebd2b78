"""The landing sensor: cursor-based, one run per new landing state."""

from __future__ import annotations

import dagster as dg

from learning_loop.defs.ingestion.automation import landing_sensor
from learning_loop_tests.helpers import env_resources


def test_sensor_requests_once_per_change(runtime):
    with dg.instance_for_test() as instance:
        def tick(cursor=None):
            with dg.build_sensor_context(resources=env_resources(), instance=instance, cursor=cursor) as context:
                return landing_sensor(context)

        empty = tick()
        assert not empty.run_requests
        (runtime / "landing" / "videos" / "a.csv").write_text("project_id,video_id,published_at,topic\n")
        first = tick(empty.cursor)
        assert len(first.run_requests) == 1
        again = tick(first.cursor)
        assert isinstance(again, dg.SkipReason)
        (runtime / "landing" / "metrics" / "b.csv").write_text("x\n")
        second = tick(first.cursor)
        assert len(second.run_requests) == 1
        assert second.run_requests[0].run_key != first.run_requests[0].run_key
