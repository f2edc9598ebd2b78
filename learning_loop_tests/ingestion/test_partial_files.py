"""A landing file still being written is never loaded half (settle window, `LEARNING_LOOP_LANDING_SETTLE_SECONDS`).

The sensors leave a file out until its size and mtime have been unchanged for
the window, and ingestion skips it without a ledger row; once it has settled
the next tick requests a run and the file loads whole. Time is moved by
setting the file's mtime (no sleeping).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from learning_loop.defs.active_learning.feeds import feeds_sensor
from learning_loop.defs.ingestion.automation import landing_sensor
from learning_loop.ingestion.landing import ingest_landing, stable_landing_files
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.settings import Settings, SettingsError
from learning_loop.warehouse.backend import Warehouse

SETTLE_S = 30.0
METRIC_HEADER = "project_id,video_id,observed_at,views,likes,comments,avg_view_duration_s\n"


def metric_lines(count: int) -> list[str]:
    return [f"proj,v{i},2024-01-05T12:00:00Z,{100 + i},10,2,20.5\n" for i in range(count)]


def age(path: Path, seconds: float) -> None:
    """Pretend the file was last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def tick(sensor, resources: dict, instance, cursor: str | None):
    with dg.build_sensor_context(resources=resources, instance=instance, cursor=cursor) as context:
        return sensor(context)


def requests(result) -> list:
    return [] if isinstance(result, dg.SkipReason) else list(result.run_requests or [])


def ledger_names(wh: Warehouse) -> list[str]:
    return list(wh.query_df("SELECT file_name FROM ingested_files ORDER BY file_name")["file_name"])


def test_half_written_csv_is_not_loaded_and_loads_whole_after_it_settles(warehouse: Warehouse, warehouse_url: str, tmp_path: Path):
    home = tmp_path / "home"
    root = home / "landing"
    (root / "metrics").mkdir(parents=True)
    resources = {"runtime": RuntimeResource(home=str(home), landing_settle_s=SETTLE_S),
                 "warehouse": WarehouseResource(url=warehouse_url)}
    done = root / "metrics" / "a_done.csv"
    done.write_text(METRIC_HEADER + "".join(metric_lines(3)))
    age(done, 3600)
    with dg.instance_for_test() as instance:
        first = tick(landing_sensor, resources, instance, None)
        assert len(requests(first)) == 1  # the settled file
        ingest_landing(warehouse, root, settle_s=SETTLE_S)

        # a writer is half-way through a file (cut mid-row) when the sensor ticks
        lines = metric_lines(1000)
        partial = root / "metrics" / "b_growing.csv"
        with partial.open("w") as handle:
            handle.write(METRIC_HEADER + "".join(lines[:500]) + lines[500][:12])
        second = tick(landing_sensor, resources, instance, first.cursor)
        assert requests(second) == []
        assert isinstance(second, dg.SkipReason) and "1 still being written" in second.skip_message
        report = ingest_landing(warehouse, root, settle_s=SETTLE_S)  # e.g. the hourly schedule runs now
        assert [(f.file_name, f.status) for f in report.files] == [("a_done.csv", "skipped"), ("b_growing.csv", "pending")]
        assert ledger_names(warehouse) == ["a_done.csv"]  # not recorded: nothing about it to undo later
        assert warehouse.scalar("SELECT count(*) FROM metric_snapshots") == 3

        # the writer finishes; once the file has been left alone for the window it loads whole
        with partial.open("a") as handle:
            handle.write(lines[500][12:] + "".join(lines[501:]))
        age(partial, SETTLE_S - 5)
        assert requests(tick(landing_sensor, resources, instance, first.cursor)) == []
        age(partial, SETTLE_S + 1)
        third = tick(landing_sensor, resources, instance, first.cursor)
        assert len(requests(third)) == 1
        report = ingest_landing(warehouse, root, settle_s=SETTLE_S)
        loaded = {f.file_name: f for f in report.files if f.status == "loaded"}
        assert list(loaded) == ["b_growing.csv"]
        assert (loaded["b_growing.csv"].rows_read, loaded["b_growing.csv"].rows_quarantined) == (1000, 0)
        assert warehouse.scalar("SELECT count(*) FROM metric_snapshots") == 1000  # v0..v2 superseded, 997 new
        assert ledger_names(warehouse) == ["a_done.csv", "b_growing.csv"]


def test_feeds_sensor_waits_for_a_settled_file_too(warehouse_url: str, tmp_path: Path):
    home = tmp_path / "home"
    labels = home / "landing" / "labels"
    labels.mkdir(parents=True)
    resources = {"runtime": RuntimeResource(home=str(home), landing_settle_s=SETTLE_S),
                 "warehouse": WarehouseResource(url=warehouse_url)}
    path = labels / "l.csv"
    path.write_text("agent,example_id,source,label,labeled_at\ninbox_triage,e1,gold,1,2024-03-01T10:00:00Z\n")
    with dg.instance_for_test() as instance:
        assert requests(tick(feeds_sensor, resources, instance, None)) == []
        age(path, SETTLE_S)
        assert len(requests(tick(feeds_sensor, resources, instance, None))) == 1


def test_a_file_changed_while_it_is_read_is_left_for_the_next_run(warehouse: Warehouse, tmp_path: Path, monkeypatch):
    from learning_loop.ingestion import landing

    root = tmp_path / "landing"
    (root / "metrics").mkdir(parents=True)
    path = root / "metrics" / "m.csv"
    path.write_text(METRIC_HEADER + "".join(metric_lines(2)))
    real = landing.read_landing_file

    def read_then_append(p: Path):
        frame = real(p)
        with p.open("a") as handle:  # the writer was not done after all
            handle.write("".join(metric_lines(3)[2:]))
        os.utime(p, ns=(time.time_ns(), time.time_ns() + 10_000_000))
        return frame

    monkeypatch.setattr(landing, "read_landing_file", read_then_append)
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in report.files] == [("m.csv", "pending")]
    assert ledger_names(warehouse) == []
    monkeypatch.setattr(landing, "read_landing_file", real)
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status, f.rows_read) for f in report.files] == [("m.csv", "loaded", 3)]


def test_stable_listing_and_the_setting():
    assert Settings.model_construct(landing_settle_raw=None).landing_settle_s == 10.0
    assert Settings.model_construct(landing_settle_raw="0").landing_settle_s == 0.0
    with pytest.raises(SettingsError, match="LEARNING_LOOP_LANDING_SETTLE_SECONDS"):
        _ = Settings.model_construct(landing_settle_raw="-1").landing_settle_s
    assert Settings.for_home(Path("/tmp/x")).landing_settle_s == 0.0  # the simulator writes whole files


def test_stable_landing_files_counts_fresh_ones(tmp_path: Path):
    (tmp_path / "videos").mkdir()
    old, new = tmp_path / "videos" / "old.csv", tmp_path / "videos" / "new.csv"
    old.write_text("x\n")
    new.write_text("y\n")
    age(old, 100)
    stable, fresh = stable_landing_files(tmp_path, ["videos"], settle_s=10)
    assert [p.name for _, p, _, _ in stable] == ["old.csv"] and fresh == 1
    stable, fresh = stable_landing_files(tmp_path, ["videos"], settle_s=0)
    assert len(stable) == 2 and fresh == 0
