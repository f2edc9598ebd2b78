"""The landing sensor: cursor-based, one run per new landing state."""

from __future__ import annotations

import dagster as dg

from learning_loop.defs.automation import landing_sensor


def test_sensor_requests_once_per_change(runtime):
    with dg.instance_for_test() as instance:
        empty = landing_sensor(dg.build_sensor_context(instance=instance))
        assert not empty.run_requests
        (runtime / "landing" / "videos" / "a.csv").write_text("project_id,video_id,published_at,topic\n")
        first = landing_sensor(dg.build_sensor_context(instance=instance, cursor=empty.cursor))
        assert len(first.run_requests) == 1
        again = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert isinstance(again, dg.SkipReason)
        (runtime / "landing" / "metrics" / "b.csv").write_text("x\n")
        second = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert len(second.run_requests) == 1
        assert second.run_requests[0].run_key != first.run_requests[0].run_key
