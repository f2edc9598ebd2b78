"""What the weekly learning report reads from the warehouse (SPEC §13)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from learning_loop.domain.jobs.report import WeeklyReport, week_of, weekly_report
from learning_loop.warehouse.backend import Transaction, Warehouse


def read_report(source: Transaction | Warehouse, monday: date, alerts: list[str] | None = None) -> WeeklyReport:
    start, end = week_of(monday)
    lo, hi = datetime.combine(start, datetime.min.time()), datetime.combine(end, datetime.min.time())
    week = {"lo": lo, "hi": hi}
    rewards = source.query_df(
        "SELECT partition_date, reward FROM percentile_rewards WHERE partition_date >= :s AND partition_date < :e",
        {"s": start, "e": end})
    batches = source.query_df(
        "SELECT created_at, planned, explore_count FROM planned_batches WHERE created_at >= :lo AND created_at < :hi",
        week)
    experiments = source.query_df(
        "SELECT completed_at, winner FROM experiments WHERE completed_at >= :lo AND completed_at < :hi", week)
    labels = source.query_df("SELECT labeled_at, source FROM labels WHERE labeled_at < :hi", {"hi": hi})
    approvals = source.query_df("SELECT status, created_at, decided_at FROM approvals WHERE created_at < :hi",
                                {"hi": hi})
    audit = source.query_df('SELECT "at", action FROM audit_log WHERE "at" >= :lo AND "at" < :hi', week)
    weights = source.query_df(
        "SELECT partition_date, agent, judge, weight FROM judge_weights WHERE partition_date = "
        "(SELECT MAX(partition_date) FROM judge_weights WHERE partition_date <= :last)",
        {"last": end - timedelta(days=1)})
    return weekly_report(start, rewards=rewards, batches=batches, experiments=experiments, labels=labels,
                         approvals=approvals, audit=audit, weights=weights, alerts=alerts or [])
