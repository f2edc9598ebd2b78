"""`learning-loop jobs status` and `jobs run NAME` (SPEC §13) through the Dagster instance, on both backends."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd

from learning_loop.cli import main
from learning_loop.cli.jobs import run_request
from learning_loop.settings import Settings
from learning_loop.warehouse.backend import open_warehouse


def cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_run_and_status_again(runtime, capsys):
    code, out, _ = cli(capsys, "jobs", "status", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["prompt_optimization", "rag_training", "ab_analysis", "cleanup",
                                         "learning_report"]
    assert all(r["last_run_id"] is None and r["outcome"] is None for r in rows)
    assert {r["name"]: r["schedule"] for r in rows}["ab_analysis"] == "ab_analysis_hourly"
    assert all(r["schedule_state"] == "stopped" and r["next_tick"].endswith("Z") for r in rows)

    wh = open_warehouse(Settings.from_env().warehouse_url)
    wh.ensure_schema()
    old = datetime(2026, 1, 1)
    with wh.transaction() as tx:
        tx.insert_df("decisions", pd.DataFrame([{"agent": "triage", "decision_id": "d1", "bundle_id": "b",
                                                 "decided_at": old, "quality": 1.0, "latency_ms": 2.0}]))
    code, out, _ = cli(capsys, "jobs", "run", "cleanup", "--as-of", "2026-08-01T01:00:00Z", "--json")
    assert code == 0
    run = json.loads(out)
    assert run["outcome"] == "SUCCESS" and run["materializations"]["feedback_archive"]["rows_deleted"] == 1.0
    assert list((runtime / "archive" / "decisions" / "2026-01").glob("*.parquet"))
    assert int(wh.scalar("SELECT COUNT(*) FROM decisions")) == 0

    code, out, _ = cli(capsys, "jobs", "run", "learning_report", "--as-of", "2026-03-09T09:00:00Z")
    assert code == 0 and "partition 2026-03-02" in out
    assert (runtime / "reports" / "2026-W10" / "report.md").is_file()

    code, out, _ = cli(capsys, "jobs", "status", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["cleanup"]["last_run_id"] == run["run_id"] and rows["cleanup"]["outcome"] == "SUCCESS"
    assert rows["cleanup"]["duration_s"] >= 0 and rows["learning_report"]["outcome"] == "SUCCESS"
    assert rows["rag_training"]["last_run_id"] is None
    code, out, _ = cli(capsys, "jobs", "status")
    assert code == 0 and "cleanup" in out and "SUCCESS" in out

    # the run is on the instance, tagged with who ran it
    with dg.DagsterInstance.from_config(str(runtime / "dagster")) as instance:
        tags = instance.get_run_by_id(run["run_id"]).tags
    assert tags["learning_loop/ran_as"] and tags["dagster/max_runtime"] == "1800"


BAD = [
    (("jobs", "run", "train_rag"), "unknown job 'train_rag'"),
    (("jobs", "run", "cleanup", "--as-of", "yesterday"), "--as-of is not an ISO-8601 timestamp"),
    (("jobs", "run", "learning_report", "--as-of", "2023-06-01"), "before the first partition"),
]


def test_bad_input_is_one_line_and_launches_nothing(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(home))
    monkeypatch.delenv("LEARNING_LOOP_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for argv, message in BAD:
        code, out, err = cli(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (home / "dagster").exists()  # no instance was even opened, so no run


def test_run_request_partitions():
    assert run_request("learning_report", "2026-03-11T00:00:00Z")["partition_key"] == "2026-03-02"
    assert run_request("ab_analysis", "2026-03-11T05:00:00Z")["partition_key"] == "2026-03-10"
    req = run_request("rag_training", "2026-03-11T05:00:00+02:00")
    assert req["run_config"] == {"ops": {"rag_training_set": {"config": {"as_of": "2026-03-11T03:00:00+00:00"}}}}
