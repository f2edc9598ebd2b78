"""The weekly learning report (contract §10, Monday 09:00 UTC): the weekly-partitioned asset `learning_report`.

One partition per week (Monday to Monday, UTC). Writes `report.md` and PNG plots
under `$LEARNING_LOOP_HOME/reports/<YYYY-Www>/`, shows the Markdown in the UI as
metadata, and mails it when SMTP is configured (off by default). The report's
alerts are the runbook alerts evaluated at the week's end (`health.alerts`).
"""


import json
import smtplib
from datetime import datetime, time, timezone
from pathlib import Path

import dagster as dg

from learning_loop.defs.jobs.common import GROUP, RETRY, job_tags, tick_time
from learning_loop.defs.jobs.health import alerts
from learning_loop.domain.jobs import report as core
from learning_loop.domain.jobs.catalog import job_spec
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.location import LOCATION_SETTINGS
from learning_loop.orchestration.mail import MailerResource
from learning_loop.orchestration.partitions import WAREHOUSE_POOL, warehouse_kind
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores.learning_report import read_report

KIND = "learning_report"
ASSET = "weekly_learning_report"

weekly_partitions = dg.WeeklyPartitionsDefinition(start_date=LOCATION_SETTINGS.start_date, day_offset=1,
                                                  timezone="UTC")


def report_dir(home: str | Path, monday) -> Path:
    return Path(home) / "reports" / core.week_label(monday)


def plot(report: core.WeeklyReport, folder: Path) -> list[tuple[str, str]]:
    """PNG plots of the week; returns (title, file name) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    fig, ax = plt.subplots(figsize=(6, 3))
    if report.reward_trend:
        ax.plot([p["date"][5:] for p in report.reward_trend], [p["mean_reward"] for p in report.reward_trend],
                marker="o")
    ax.set_title(f"Mean reward per day, {report.week}")
    ax.set_ylabel("mean reward")
    fig.tight_layout()
    fig.savefig(folder / "reward_trend.png", dpi=80)
    plt.close(fig)
    images.append(("Reward trend", "reward_trend.png"))

    fig, ax = plt.subplots(figsize=(6, 3))
    sources = report.new_labels_by_source or {"none": 0}
    ax.bar(list(sources), list(sources.values()))
    ax.set_title(f"New labels by source, {report.week}")
    fig.tight_layout()
    fig.savefig(folder / "labels_by_source.png", dpi=80)
    plt.close(fig)
    images.append(("New labels by source", "labels_by_source.png"))

    fig, ax = plt.subplots(figsize=(6, 3))
    bars = {"pending": report.approvals_pending, **{f"decided {k}": v for k, v in report.approvals_decided.items()},
            "promotions": report.promotions, "rollbacks": report.rollbacks}
    ax.bar(list(bars), list(bars.values()))
    ax.set_title(f"Approvals and canaries, {report.week}")
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(folder / "approvals_canaries.png", dpi=80)
    plt.close(fig)
    images.append(("Approvals and canaries", "approvals_canaries.png"))
    return images


def check_keys(context: dg.AssetExecutionContext) -> list[dg.AssetCheckKey]:
    """Every asset check of the code location the run belongs to."""
    try:
        keys = context.repository_def.asset_graph.asset_check_keys
    except Exception:  # no repository (a bare materialize): nothing to list
        return []
    return sorted(keys, key=lambda k: k.to_user_string())


def failed_checks(instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey], start: datetime,
                  end: datetime) -> list[str]:
    """The checks among `keys` that warned or failed between start and end, newest first."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    found = []
    for key in keys:
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=100, status={AssetCheckExecutionRecordStatus.FAILED})
        for record in records:
            if start.timestamp() <= record.create_timestamp < end.timestamp():
                evaluation = record.evaluation
                severity = evaluation.severity.value if evaluation is not None else "ERROR"
                at = datetime.fromtimestamp(record.create_timestamp, tz=timezone.utc)
                found.append((record.create_timestamp,
                              f"check {key.to_user_string()} {severity} at {at:%Y-%m-%d %H:%M}Z (run {record.run_id[:8]})"))
    return [text for _, text in sorted(found, reverse=True)]


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    partitions_def=weekly_partitions,
    deps=["percentile_rewards", "labels", "approvals", "judge_weights"],
    kinds={"python", "markdown", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    code_version=code_version_of(core),
    description="Weekly learning report (contract §10): Markdown and plots under $LEARNING_LOOP_HOME/reports/<YYYY-Www>/.",
)
def weekly_learning_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, runtime: RuntimeResource,
                    mailer: MailerResource) -> dg.MaterializeResult:
    monday = datetime.fromisoformat(context.partition_key).date()
    _, end = core.week_of(monday)
    wh = warehouse.get()
    week_end = datetime.combine(end, time(), tzinfo=timezone.utc)
    week_start = datetime.combine(monday, time(), tzinfo=timezone.utc)
    firing = [f"{a.name}: {a.message}" for a in alerts(context.instance, wh, week_end) if a.firing]
    firing += failed_checks(context.instance, check_keys(context), week_start, week_end)
    report = read_report(wh, monday, firing)
    folder = report_dir(runtime.home, monday)
    folder.mkdir(parents=True, exist_ok=True)
    images = plot(report, folder)
    markdown = core.render_markdown(report, images)
    (folder / "report.md").write_text(markdown, encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(report.to_dict(), indent=2, default=str),
                                        encoding="utf-8")
    try:
        sent = mailer.send(f"Learning report {report.week}", markdown, [folder / f for _, f in images])
        mailed = ", ".join(sent) or "not mailed (SMTP off)"
    except (OSError, smtplib.SMTPException) as exc:  # the report is written; a mail outage must not fail it
        mailed = f"mail failed: {exc}".splitlines()[0]
        context.log.warning(mailed)
    if mailed and not mailed.startswith(("not mailed", "mail failed")):
        context.log.info(f"report mailed to {mailed}")
    return dg.MaterializeResult(metadata={
        "week": report.week,
        "report": dg.MetadataValue.md(markdown),
        "path": dg.MetadataValue.path(str(folder / "report.md")),
        "mean_reward": float("nan") if report.mean_reward is None else report.mean_reward,
        "new_labels": float(sum(report.new_labels_by_source.values())),
        "approvals_pending": float(report.approvals_pending),
        "promotions": float(report.promotions),
        "rollbacks": float(report.rollbacks),
        "alerts": float(len(report.alerts)),
        "mailed_to": mailed,
    })


learning_report_job = dg.define_asset_job(
    job_spec(KIND).job_name, selection=dg.AssetSelection.assets(ASSET),
    tags=job_tags(job_spec(KIND)), description="The weekly learning report (contract §10).")


@dg.schedule(job=learning_report_job, cron_schedule=job_spec(KIND).cron, execution_timezone="UTC",
             name=job_spec(KIND).schedule_name,
             description="Monday 09:00 UTC: the learning report of the week that just ended (runbook 002).")
def learning_report_schedule(context: dg.ScheduleEvaluationContext):
    monday = core.last_complete_week(tick_time(context))
    return dg.RunRequest(run_key=monday.isoformat(), partition_key=monday.isoformat())
