"""`learning-loop active stats|growth|load` and the labeled-data views, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from learning_loop.cli import main
from learning_loop.settings import Settings
from learning_loop.views.active_learning import labeled_growth_view, labeled_stats_view
from learning_loop.warehouse.backend import Warehouse, open_warehouse

AS_OF = "2024-03-10T00:00:00Z"
# (agent, example_id, source, label, labeled_at)
HAND_MADE = [
    ("inbox_triage", "e1", "gold", 1, "2024-03-09T12:00:00"),  # recent
    ("inbox_triage", "e1", "feedback", 0, "2024-03-01T00:00:00"),  # same example, another source: counts too
    ("inbox_triage", "e2", "approvals", 1, "2024-03-03T00:00:00"),  # exactly 7 days before: recent
    ("inbox_triage", "e3", "feedback", 0, "2024-03-02T23:59:59"),  # just before the 7 days
    ("post_gate", "p1", "approvals", 1, "2024-03-05T08:00:00"),  # recent
    ("post_gate", "p2", "gold", 0, "2024-03-10T00:00:00"),  # at as_of: not yet labeled
    ("post_gate", "p3", "feedback", 1, "2024-03-11T09:00:00"),  # after as_of
]


def _insert_labels(wh: Warehouse) -> None:
    frame = pd.DataFrame(HAND_MADE, columns=["agent", "example_id", "source", "label", "labeled_at"])
    frame["labeled_at"] = pd.to_datetime(frame["labeled_at"])
    frame["features"] = '{"x": 1.0}'
    frame["source_file"], frame["source_row"], frame["loaded_at"] = "hand.csv", 1, datetime(2024, 3, 12)
    with wh.transaction() as tx:
        tx.insert_df("labels", frame)


@pytest.fixture
def labeled(runtime: Path) -> Warehouse:
    wh = open_warehouse(Settings.from_env().warehouse_url)
    wh.ensure_schema()
    _insert_labels(wh)
    return wh


def test_stats_view_counts_label_rows_before_as_of(labeled: Warehouse):
    assert labeled_stats_view(labeled, AS_OF) == {
        "total": 5,
        "by_source": {"approvals": 2, "feedback": 2, "gold": 1},
        "by_agent": {"inbox_triage": 4, "post_gate": 1},
        "recent_7d": 3,
    }
    later = labeled_stats_view(labeled, "2024-03-12T00:00:00+00:00")
    assert later["total"] == 7 and later["recent_7d"] == 4  # e1 gold, p1, p2, p3
    assert labeled_stats_view(labeled, "2024-01-01") == {"total": 0, "by_source": {}, "by_agent": {}, "recent_7d": 0}


def test_growth_view_is_per_source_per_day(labeled: Warehouse):
    growth = labeled_growth_view(labeled, AS_OF, days=2)
    assert growth["sources"] == ["approvals", "feedback", "gold"]
    assert growth["rows"] == [
        {"day": "2024-03-08", "approvals": 0, "feedback": 0, "gold": 0},
        {"day": "2024-03-09", "approvals": 0, "feedback": 0, "gold": 1},
    ]


def test_active_stats_json_and_text(labeled: Warehouse, capsys: pytest.CaptureFixture):
    assert main(["active", "stats", "--as-of", AS_OF, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload == labeled_stats_view(labeled, AS_OF)
    assert list(payload) == ["total", "by_source", "by_agent", "recent_7d"]

    assert main(["active", "stats", "--as-of", AS_OF]) == 0
    text = capsys.readouterr().out
    assert "total:     5 label rows (3 in the last 7 days)" in text
    assert "by source: approvals 2, feedback 2, gold 1" in text
    assert "only 3 labels in the last 7 days" in text  # red flags are listed in the text view
    assert "post_gate has 1 labeled examples" in text


def test_active_stats_bad_as_of_is_one_line_and_exit_2(labeled: Warehouse, capsys: pytest.CaptureFixture):
    assert main(["active", "stats", "--as-of", "last week", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--as-of is not an ISO-8601 timestamp" in err
    assert main(["active", "growth", "--days", "0"]) == 2
    assert "--days must be between 1 and 366" in capsys.readouterr().err


@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # both backends: defs/test_feeds.py
def test_active_load_runs_the_load_feeds_job(runtime: Path, capsys: pytest.CaptureFixture):
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    shutil.copytree(sample / "judgments", runtime / "landing" / "judgments")
    assert main(["active", "load", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    judgments = payload["feeds"]["judgments"]
    assert judgments["files_loaded"] == len(list((sample / "judgments").iterdir()))
    assert judgments["rows_read"] == judgments["rows_loaded"] + judgments["rows_quarantined"]
    assert judgments["rows_quarantined"] == 3  # the sample's bad judgments
    with dg.DagsterInstance.from_config(str(runtime / "dagster")) as instance:
        run = instance.get_run_by_id(payload["run_id"])
        assert run.job_name == "load_feeds" and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags.get("learning_loop/ran_as")
    assert main(["active", "load", "--json"]) == 0  # nothing new: every file skipped
    again = json.loads(capsys.readouterr().out)["feeds"]["judgments"]
    assert again["files_loaded"] == 0 and again["files_skipped"] == judgments["files_loaded"]
