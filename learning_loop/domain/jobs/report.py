"""The weekly learning report (SPEC §13): numbers of one ISO week and their Markdown.

Week: Monday 00:00 UTC to the next Monday (exclusive); its folder is `YYYY-Www`
(ISO week). Frames in (already read from the warehouse):

- `rewards`: percentile_rewards `partition_date`, `reward` → daily mean reward (the trend);
- `batches`: planned_batches `created_at`, `planned`, `explore_count` → explore share;
- `experiments`: `completed_at`, `winner` → experiments decided in the week, by winner;
- `labels`: `labeled_at`, `source` → new labels by source, total at the end;
- `approvals`: `status`, `created_at`, `decided_at` → pending at the end, decided in the week;
- `audit`: audit_log `at`, `action` → promotions (`promoted`, `force_promoted`) and rollbacks;
- `weights`: the newest judge_weights partition on or before the week's last day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

PROMOTION_ACTIONS = ("promoted", "force_promoted")
ROLLBACK_ACTIONS = ("rolled_back",)


def week_of(day: date) -> tuple[date, date]:
    """(monday, next monday) of the ISO week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def last_complete_week(as_of: datetime) -> date:
    """Monday of the last week that ended at or before as_of."""
    monday, _ = week_of(as_of.date())
    return monday - timedelta(days=7)


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _between(frame: pd.DataFrame, column: str, start: date, end: date) -> pd.DataFrame:
    if frame.empty:
        return frame
    ts = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    return frame.loc[(ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(end))]


@dataclass
class WeeklyReport:
    week: str
    start: date
    end: date
    reward_trend: list[dict[str, Any]]
    mean_reward: float | None
    explore_share: float | None
    batches: int
    experiments_decided: dict[str, int]
    new_labels_by_source: dict[str, int]
    labels_total: int
    approvals_pending: int
    approvals_decided: dict[str, int]
    promotions: int
    rollbacks: int
    judge_weights: dict[str, dict[str, float]]
    alerts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def weekly_report(monday: date, *, rewards: pd.DataFrame, batches: pd.DataFrame, experiments: pd.DataFrame,
                  labels: pd.DataFrame, approvals: pd.DataFrame, audit: pd.DataFrame, weights: pd.DataFrame,
                  alerts: Sequence[str] = ()) -> WeeklyReport:
    start, end = week_of(monday)
    if start != monday:
        raise ValueError(f"a report week starts on a Monday, got {monday}")
    r = _between(rewards, "partition_date", start, end)
    trend = [] if r.empty else [
        {"date": pd.Timestamp(d).date().isoformat(), "mean_reward": float(g["reward"].mean()), "videos": int(len(g))}
        for d, g in r.dropna(subset=["reward"]).groupby("partition_date", sort=True)
    ]
    mean_reward = float(r["reward"].mean()) if not r.empty and r["reward"].notna().any() else None
    b = _between(batches, "created_at", start, end)
    planned = float(b["planned"].sum()) if not b.empty else 0.0
    explore = float(b["explore_count"].sum()) / planned if planned else None
    e = _between(experiments, "completed_at", start, end)
    decided = {} if e.empty else {str(k): int(v) for k, v in e["winner"].fillna("unknown").value_counts().sort_index().items()}
    lw = _between(labels, "labeled_at", start, end)
    by_source = {} if lw.empty else {str(k): int(v) for k, v in lw["source"].value_counts().sort_index().items()}
    labels_total = 0 if labels.empty else int(
        (pd.to_datetime(labels["labeled_at"], utc=True).dt.tz_localize(None) < pd.Timestamp(end)).sum())
    if approvals.empty:
        pending, decided_a = 0, {}
    else:
        created = pd.to_datetime(approvals["created_at"], utc=True).dt.tz_localize(None)
        decided_at = pd.to_datetime(approvals["decided_at"], utc=True).dt.tz_localize(None)
        open_at_end = (created < pd.Timestamp(end)) & (decided_at.isna() | (decided_at >= pd.Timestamp(end)))
        pending = int(open_at_end.sum())
        in_week = approvals.loc[(decided_at >= pd.Timestamp(start)) & (decided_at < pd.Timestamp(end))]
        # an applied approval was approved first; the report counts the decision
        statuses = in_week["status"].replace({"applied": "approved"})
        decided_a = {str(k): int(v) for k, v in statuses.value_counts().sort_index().items()}
    a = _between(audit, "at", start, end)
    promotions = int(a["action"].isin(PROMOTION_ACTIONS).sum()) if not a.empty else 0
    rollbacks = int(a["action"].isin(ROLLBACK_ACTIONS).sum()) if not a.empty else 0
    jw: dict[str, dict[str, float]] = {}
    if not weights.empty:
        w = weights.loc[pd.to_datetime(weights["partition_date"]) < pd.Timestamp(end)]
        if not w.empty:
            latest = pd.to_datetime(w["partition_date"]).max()
            for _, row in w.loc[pd.to_datetime(w["partition_date"]) == latest].sort_values(["agent", "judge"]).iterrows():
                jw.setdefault(str(row["agent"]), {})[str(row["judge"])] = float(row["weight"])
    return WeeklyReport(week_label(start), start, end, trend, mean_reward, explore, int(len(b)), decided, by_source,
                        labels_total, pending, decided_a, promotions, rollbacks, jw, list(alerts))


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_markdown(report: WeeklyReport, images: Sequence[tuple[str, str]] = ()) -> str:
    """The report as Markdown; `images` are (title, relative path) of its plots."""
    end_day = (report.end - timedelta(days=1)).isoformat()
    lines = [f"# Learning report {report.week}", "", f"{report.start.isoformat()} – {end_day} (UTC)", ""]
    lines += ["## Rewards", "", f"Mean reward: {_num(report.mean_reward)}", ""]
    if report.reward_trend:
        lines += ["| day | mean reward | videos |", "|---|---|---|"]
        lines += [f"| {p['date']} | {_num(p['mean_reward'])} | {p['videos']} |" for p in report.reward_trend]
        lines.append("")
    share = "–" if report.explore_share is None else f"{report.explore_share:.1%}"
    lines += ["## Planning and experiments", "", f"Explore share: {share} over {report.batches} batches", "",
              "Experiments decided: " + (", ".join(f"{k} {v}" for k, v in report.experiments_decided.items()) or "none"),
              ""]
    lines += ["## Labeled data", "", f"Labels in total: {report.labels_total}", "",
              "New this week: " + (", ".join(f"{k} {v}" for k, v in report.new_labels_by_source.items()) or "none"), ""]
    lines += ["## Approvals and canaries", "", f"Approvals pending: {report.approvals_pending}", "",
              "Decided this week: " + (", ".join(f"{k} {v}" for k, v in report.approvals_decided.items()) or "none"), "",
              f"Canary promotions: {report.promotions}; rollbacks: {report.rollbacks}", ""]
    lines += ["## Judge weights", ""]
    if report.judge_weights:
        lines += ["| agent | judge | weight |", "|---|---|---|"]
        lines += [f"| {a} | {j} | {w:.3f} |" for a, js in report.judge_weights.items() for j, w in js.items()]
    else:
        lines.append("none")
    lines += ["", "## Alerts", ""]
    lines += [f"- {a}" for a in report.alerts] or ["none"]
    for title, path in images:
        lines += ["", f"![{title}]({path})"]
    return "\n".join(lines) + "\n"
