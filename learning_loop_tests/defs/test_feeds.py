"""The feed assets, the `feeds_sensor`, the `feeds_nightly` schedule and the red-flag checks on `labels`."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import numpy as np

from learning_loop.defs.active_learning.feeds import (
    examples_per_agent,
    feeds,
    feeds_nightly,
    feeds_sensor,
    label_balance,
    labeled_data_growth,
    recent_labels,
)
from learning_loop.defs.ingestion.automation import landing_sensor
from learning_loop.orchestration.resources import RuntimeResource
from learning_loop.stores.learning_state import set_paused
from learning_loop.warehouse.backend import open_warehouse
from learning_loop_tests.helpers import env_resources

CHECKS = (recent_labels, examples_per_agent, labeled_data_growth, label_balance)
AS_OF = datetime(2024, 3, 11)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def set_pause(url: str, paused: bool, reason: str | None = None) -> None:
    with open_warehouse(url).transaction() as tx:
        set_paused(tx, paused=paused, reason=reason, actor="alice", ran_as="tester@host",
                   at=datetime.now(timezone.utc) + (timedelta(seconds=1) if not paused else timedelta()))


def test_feeds_sensor_requests_once_per_change_and_waits_while_paused(runtime: Path, warehouse_url: str):
    with dg.instance_for_test() as instance:
        def tick(cursor=None):
            with dg.build_sensor_context(resources=env_resources(), instance=instance, cursor=cursor) as context:
                return feeds_sensor(context)

        empty = tick()
        assert not empty.run_requests
        write_csv(runtime / "landing" / "labels" / "a.csv", ["agent"], [["x"]])
        first = tick(empty.cursor)
        assert len(first.run_requests) == 1
        assert isinstance(tick(first.cursor), dg.SkipReason)  # nothing new: no second request

        set_pause(warehouse_url, True, "labels look wrong")
        write_csv(runtime / "landing" / "decisions" / "d.csv", ["agent"], [["x"]])
        paused = tick(first.cursor)
        assert isinstance(paused, dg.SkipReason)
        assert "learning paused by alice" in paused.skip_message and "labels look wrong" in paused.skip_message

        set_pause(warehouse_url, False)
        resumed = tick(first.cursor)  # the cursor did not move while paused: the new file loads now
        assert len(resumed.run_requests) == 1
        assert resumed.run_requests[0].run_key != first.run_requests[0].run_key


def test_video_ingestion_ignores_feed_files(tmp_path: Path):
    """The landing sensor (videos, metrics) never looks at the warehouse, so pausing cannot stop
    it, and it does not fire for feed files."""
    write_csv(tmp_path / "landing" / "labels" / "a.csv", ["agent"], [["x"]])
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(resources={"runtime": RuntimeResource(home=str(tmp_path))}, instance=instance) as context:
            result = landing_sensor(context)
    assert not result.run_requests


def test_nightly_schedule_skips_while_paused(runtime: Path, warehouse_url: str):
    at = datetime(2024, 3, 11, 0, 30, tzinfo=timezone.utc)
    with dg.instance_for_test() as instance:
        def evaluate():
            with dg.build_schedule_context(resources=env_resources(), instance=instance, scheduled_execution_time=at) as ctx:
                return feeds_nightly(ctx)

        running = evaluate()
        assert isinstance(running, dg.RunRequest)
        set_pause(warehouse_url, True, "judge outage")
        paused = evaluate()
        assert isinstance(paused, dg.SkipReason) and "judge outage" in paused.skip_message
    assert feeds_nightly.cron_schedule == "30 0 * * *" and feeds_nightly.execution_timezone == "UTC"


LABEL_HEADER = ["agent", "example_id", "source", "label", "labeled_at", "f_x"]


def _materialize(resources: dict) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {check.node_def.name: {"config": {"as_of": AS_OF.isoformat()}} for check in CHECKS}}
    with dg.instance_for_test() as instance:
        result = dg.materialize([feeds, *CHECKS], resources=resources, instance=instance, run_config=run_config)
    assert result.success
    return result


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_red_flag_checks_warn_on_a_small_set(resources: dict):
    home = Path(resources["runtime"].home)
    rows = [["tiny", f"t{i}", "feedback", 1, (AS_OF - timedelta(days=1, hours=i)).isoformat(), i] for i in range(5)]
    write_csv(home / "landing" / "labels" / "small.csv", LABEL_HEADER, rows)
    result = _materialize(resources)
    checks = _evaluations(result)
    assert set(checks) == {"recent_labels", "examples_per_agent", "labeled_data_growth", "label_balance"}
    for evaluation in checks.values():
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert checks["recent_labels"].metadata["recent_7d"].value == 5.0
    assert "tiny has 5 labeled examples" in checks["examples_per_agent"].description
    assert "tiny got 5 new examples" in checks["labeled_data_growth"].description
    assert "100% of examples have label 1" in checks["label_balance"].description


def test_red_flag_checks_pass_for_a_healthy_agent_and_name_the_starving_one(resources: dict):
    home = Path(resources["runtime"].home)
    rng = np.random.default_rng(3)
    rows = []
    for i in range(120):  # 120 balanced examples, the newest 60 within the last 7 days
        at = AS_OF - timedelta(days=14 - 7 * i / 59 if i < 60 else 6.5 - 6 * (i - 60) / 59)
        source = "gold" if i % 3 == 0 else "approvals"
        rows.append(["healthy", f"h{i:03d}", source, i % 2, at.isoformat(), round(float(rng.normal()), 3)])
    write_csv(home / "landing" / "labels" / "healthy.csv", LABEL_HEADER, rows)
    # an agent deciding in production without any label is starving for data
    write_csv(home / "landing" / "decisions" / "d.csv", ["agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms"],
              [["starving", "d1", "starving_stable", "2024-03-05T00:00:00Z", "0.8", "700"]])
    result = _materialize(resources)
    checks = _evaluations(result)
    assert checks["recent_labels"].passed and checks["label_balance"].passed
    assert not checks["examples_per_agent"].passed and not checks["labeled_data_growth"].passed
    assert [f["agent"] for f in checks["examples_per_agent"].metadata["flags"].value] == ["starving"]
    assert [f["agent"] for f in checks["labeled_data_growth"].metadata["flags"].value] == ["starving"]

    labels = next(m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey("labels"))
    metadata = labels.materialization.metadata
    assert metadata["rows_loaded"].value == 120 and metadata["total"].value == 120.0
    assert metadata["total_gold"].value == 40.0 and metadata["total_feedback"].value == 0.0
    newest_day = (AS_OF - timedelta(days=1)).date()
    on_newest = sum(1 for r in rows if r[4].startswith(newest_day.isoformat()))
    assert metadata["latest_label_day"].value == newest_day.isoformat()
    assert metadata["new_gold_latest_day"].value + metadata["new_approvals_latest_day"].value == on_newest
    assert f"| {newest_day} |" in metadata["daily_growth"].value


def test_a_subset_loads_only_its_kinds(resources: dict):
    selected = ["labels", "decisions"]
    home = Path(resources["runtime"].home)
    write_csv(home / "landing" / "labels" / "l.csv", LABEL_HEADER, [["a", "e1", "gold", 1, "2024-03-01T00:00:00Z", 1]])
    write_csv(home / "landing" / "judgments" / "j.csv", ["agent", "example_id", "judge", "score", "judged_at"],
              [["a", "e1", "gpt-4", 0.9, "2024-03-01T00:00:00Z"]])
    write_csv(home / "landing" / "decisions" / "d.csv", ["agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms"],
              [["a", "d1", "a_stable", "2024-03-01T00:00:00Z", 0.8, 700]])
    with dg.instance_for_test() as instance:
        result = dg.materialize([feeds], resources=resources, instance=instance, selection=selected)
    assert result.success
    wh = resources["warehouse"].get()
    loaded = {kind for kind in ("labels", "judgments", "decisions") if wh.scalar(f"SELECT count(*) FROM {kind}")}
    assert loaded == set(selected)
