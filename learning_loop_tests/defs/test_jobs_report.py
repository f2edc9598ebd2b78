"""The weekly learning report (SPEC §13) on both backends: numbers, files, Markdown metadata, SMTP."""

import socket
from datetime import date, datetime

import dagster as dg
import pandas as pd
import pytest

from learning_loop.defs.jobs.learning_report import learning_report_schedule, weekly_learning_report
from learning_loop.orchestration.mail import MailerResource
from learning_loop.stores.learning_report import read_report
from learning_loop_tests.defs.jobs_helpers import job_resources, materialize, metadata

MON = date(2026, 3, 2)


def seed(wh):
    with wh.transaction() as tx:
        tx.insert_df("percentile_rewards", pd.DataFrame({
            "partition_date": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 4)],
            "project_id": "p", "video_id": ["a", "b", "c", "d"], "reward": [9.0, 0.2, 0.4, 0.9]}))
        tx.insert_df("planned_batches", pd.DataFrame({
            "batch_id": ["b1", "b2", "b3"], "project_id": "p",
            "created_at": [datetime(2026, 3, 2, 6), datetime(2026, 3, 3, 6), datetime(2026, 3, 9, 6)],
            "planned": [5, 5, 5], "explore_count": [1, 2, 5]}))
        tx.insert_df("experiments", pd.DataFrame({
            "experiment_id": ["x1", "x2", "x3"], "project_id": "p", "status": ["completed", "completed", "running"],
            "completed_at": [datetime(2026, 3, 3), datetime(2026, 3, 4), None],
            "winner": ["variant", "inconclusive", None]}))
        tx.insert_df("labels", pd.DataFrame({
            "agent": "triage", "example_id": ["e1", "e2", "e3", "e4"], "label": 1,
            "labeled_at": [datetime(2026, 2, 1), datetime(2026, 3, 2, 1), datetime(2026, 3, 8, 23), datetime(2026, 3, 9)],
            "source": ["gold", "feedback", "gold", "gold"]}))
        tx.insert_df("approvals", pd.DataFrame({
            "approval_id": ["a1", "a2", "a3", "a4", "a5"], "agent": "triage",
            "status": ["pending", "approved", "applied", "rejected", "approved"],
            "created_at": [datetime(2026, 3, 1), datetime(2026, 2, 28), datetime(2026, 3, 2), datetime(2026, 3, 3),
                           datetime(2026, 3, 5)],
            "decided_at": [None, datetime(2026, 3, 2), datetime(2026, 3, 3), datetime(2026, 3, 4), datetime(2026, 3, 10)]}))
        tx.insert_df("audit_log", pd.DataFrame({
            "at": [datetime(2026, 3, 3), datetime(2026, 3, 4), datetime(2026, 3, 5), datetime(2026, 3, 10)],
            "action": ["promoted", "force_promoted", "rolled_back", "rolled_back"], "actor": "x", "ran_as": "x"}))
        tx.insert_df("judge_weights", pd.DataFrame({
            "partition_date": [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 7), date(2026, 3, 9)],
            "agent": "triage", "judge": ["j1", "j1", "j2", "j1"], "weight": [0.5, 0.8, 0.1, 0.0]}))


def test_report_numbers_from_the_warehouse(warehouse):
    seed(warehouse)
    r = read_report(warehouse, MON)
    assert [p["mean_reward"] for p in r.reward_trend] == [pytest.approx(0.3), pytest.approx(0.9)]
    assert r.explore_share == pytest.approx(0.3) and r.batches == 2
    assert r.experiments_decided == {"inconclusive": 1, "variant": 1}
    assert r.new_labels_by_source == {"feedback": 1, "gold": 1} and r.labels_total == 3
    assert r.approvals_pending == 2 and r.approvals_decided == {"approved": 2, "rejected": 1}
    assert (r.promotions, r.rollbacks) == (2, 1)
    assert r.judge_weights == {"triage": {"j1": 0.8, "j2": 0.1}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_weekly_asset_writes_markdown_and_plots_and_mails(warehouse, warehouse_url, tmp_path):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope)
            return "250 OK"

    seed(warehouse)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = MailerResource(host="127.0.0.1", port=port, recipients=["team@example.org"])
        result = materialize(weekly_learning_report, job_resources(warehouse_url, tmp_path, mailer=mailer),
                             partition_key="2026-03-02")
    finally:
        controller.stop()
    folder = tmp_path / "reports" / "2026-W10"
    assert {p.name for p in folder.iterdir()} == {"report.md", "report.json", "reward_trend.png",
                                                   "labels_by_source.png", "approvals_canaries.png"}
    assert (folder / "reward_trend.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (folder / "report.md").read_text()
    meta = metadata(result)
    assert meta["report"] == md and meta["week"] == "2026-W10" and meta["promotions"] == 2.0
    assert "Explore share: 30.0% over 2 batches" in md
    assert meta["mailed_to"] == "team@example.org"
    (message,) = inbox.messages
    assert message.rcpt_tos == ["team@example.org"]
    assert b"Subject: Learning report 2026-W10" in message.content and b"reward_trend.png" in message.content


def test_smtp_off_by_default(tmp_path):
    assert not MailerResource().enabled
    assert MailerResource().send("s", "b") == []


def test_schedule_reports_the_week_that_just_ended():
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 9, 9, 0)) as ctx:
        request = learning_report_schedule(ctx)
    assert request.partition_key == "2026-03-02"
    assert learning_report_schedule.cron_schedule == "0 9 * * 1"
    assert learning_report_schedule.execution_timezone == "UTC"


def test_unreachable_smtp_server_does_not_fail_the_report(tmp_path):
    from learning_loop.warehouse.backend import open_warehouse

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    open_warehouse(url).ensure_schema()
    mailer = MailerResource(host="127.0.0.1", port=free_port(), recipients=["team@example.org"], timeout_s=2)
    result = materialize(weekly_learning_report, job_resources(url, tmp_path, mailer=mailer), partition_key="2026-03-02")
    assert metadata(result)["mailed_to"].startswith("mail failed")
    assert (tmp_path / "reports" / "2026-W10" / "report.md").is_file()


def test_checks_that_warned_in_the_week_are_listed(tmp_path):
    from datetime import timedelta, timezone

    from learning_loop.defs.jobs.learning_report import failed_checks
    from learning_loop.defs.jobs.rag_training import rag_training_set
    from learning_loop.warehouse.backend import open_warehouse

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    wh.ensure_schema()
    with wh.transaction() as tx:  # pairs exist, none loaded lately: rag_pairs_growing warns
        tx.insert_df("retrieval_pairs", pd.DataFrame([{"query": "q", "document": "d", "relevant": 1,
                                                       "observed_at": datetime(2020, 1, 1),
                                                       "loaded_at": datetime(2020, 1, 1)}]))
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(rag_training_set, job_resources(url, tmp_path), instance=instance)
    keys = [dg.AssetCheckKey(dg.AssetKey("rag_training_set"), "rag_pairs_growing")]
    now = datetime.now(timezone.utc)
    (line,) = failed_checks(instance, keys, now - timedelta(hours=1), now + timedelta(hours=1))
    assert line.startswith("check rag_training_set:rag_pairs_growing WARN at") and result.run_id[:8] in line
    assert failed_checks(instance, keys, now - timedelta(days=8), now - timedelta(days=1)) == []
