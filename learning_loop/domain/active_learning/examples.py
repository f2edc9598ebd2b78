"""Labeled examples (SPEC §9): resolving labels, the `active stats` numbers, red flags, growth.

A *label row* is one row of the labels table: key (agent, example_id, source).
An *example* is one (agent, example_id); when it has labels from several
sources the one that counts is gold, else approvals, else feedback (SPEC §9).
Everything is point-in-time: only labels with `labeled_at` strictly before
`as_of` exist. Times are naive UTC (tz-aware inputs are converted to UTC).

Frames in: the labels table (or `validate_labels` output) with at least
`agent`, `example_id`, `source`, `label`, `labeled_at`; features either as
float `f_<name>` columns or as the JSON text column `features` (expanded here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from learning_loop.domain.validation import LABEL_SOURCES, expand_features

#: Precedence of label sources, weakest first (SPEC §9: gold > approvals > feedback).
SOURCE_PRECEDENCE = ("feedback", "approvals", "gold")
RECENT_DAYS = 7
#: Runbook red-flag limits.
MIN_RECENT_LABELS = 50
MIN_AGENT_EXAMPLES = 100
MIN_AGENT_NEW_EXAMPLES = 20
MAX_LABEL_SHARE = 0.9


def utc_naive(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp as naive UTC: tz-aware values are converted, naive ones are taken as UTC."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _labels_before(labels: pd.DataFrame, as_of) -> pd.DataFrame:
    frame = expand_features(labels) if "features" in labels.columns else labels.copy()
    frame["labeled_at"] = pd.to_datetime(frame["labeled_at"], utc=True, format="ISO8601").dt.tz_localize(None)
    return frame.loc[frame["labeled_at"] < utc_naive(as_of)].reset_index(drop=True)


def resolve_examples(labels: pd.DataFrame, as_of) -> pd.DataFrame:
    """One row per (agent, example_id) labeled before `as_of`, with the label of the strongest
    source (gold > approvals > feedback; among rows of the same source the latest `labeled_at`).

    Keeps the chosen row's columns (`source`, `label` as int, `labeled_at`, `confidence`, `f_`
    features, ...). Sorted by agent, example_id."""
    frame = _labels_before(labels, as_of)
    if frame.empty:
        return frame
    frame["_rank"] = frame["source"].map({s: i for i, s in enumerate(SOURCE_PRECEDENCE)}).fillna(-1)
    frame = frame.sort_values(["agent", "example_id", "_rank", "labeled_at"], kind="mergesort")
    chosen = frame.drop_duplicates(["agent", "example_id"], keep="last").drop(columns="_rank")
    chosen["label"] = chosen["label"].astype("int64")
    return chosen.reset_index(drop=True)


def labeled_stats(labels: pd.DataFrame, as_of) -> dict:
    """`{"total", "by_source", "by_agent", "recent_7d"}` (SPEC §9) as of `as_of`.

    Every number counts *label rows* labeled before `as_of` (one per agent, example and source),
    so `total` = sum of `by_source` = sum of `by_agent`, as in the runbook's example output; an
    example labeled by two sources counts twice. `recent_7d` counts those labeled in
    [as_of - 7 days, as_of). Only sources and agents with at least one label appear; keys sorted."""
    frame = _labels_before(labels, as_of)
    recent_start = utc_naive(as_of) - timedelta(days=RECENT_DAYS)
    return {
        "total": int(len(frame)),
        "by_source": {str(k): int(v) for k, v in frame["source"].value_counts().sort_index().items()},
        "by_agent": {str(k): int(v) for k, v in frame["agent"].value_counts().sort_index().items()},
        "recent_7d": int((frame["labeled_at"] >= recent_start).sum()),
    }


@dataclass(frozen=True)
class RedFlag:
    """One runbook red flag. `check` is one of `low_recent_labels`, `few_examples`, `slow_growth`,
    `label_imbalance`; `agent` is None for the global one."""

    check: str
    agent: str | None
    observed: float
    limit: float
    message: str


def red_flags(
    labels: pd.DataFrame,
    as_of,
    *,
    agents: Iterable[str] = (),
    min_recent: int = MIN_RECENT_LABELS,
    min_agent_examples: int = MIN_AGENT_EXAMPLES,
    min_agent_new: int = MIN_AGENT_NEW_EXAMPLES,
    max_label_share: float = MAX_LABEL_SHARE,
) -> list[RedFlag]:
    """The runbook's red flags as of `as_of`:

    - `low_recent_labels`: stats' `recent_7d` (label rows) < `min_recent`;
    - per agent, over its resolved examples (what training sees):
      `few_examples` (< `min_agent_examples`), `slow_growth` (< `min_agent_new` examples whose
      first label is in the last 7 days), `label_imbalance` (one label value > `max_label_share`
      of the examples).

    Agents are those with labels plus `agents` (e.g. configured ones, which then may have 0)."""
    flags: list[RedFlag] = []
    stats = labeled_stats(labels, as_of)
    if stats["recent_7d"] < min_recent:
        flags.append(
            RedFlag(
                "low_recent_labels",
                None,
                stats["recent_7d"],
                min_recent,
                f"only {stats['recent_7d']} labels in the last {RECENT_DAYS} days (fewer than {min_recent})",
            )
        )
    frame = _labels_before(labels, as_of)
    examples = resolve_examples(labels, as_of)
    recent_start = utc_naive(as_of) - timedelta(days=RECENT_DAYS)
    first_labeled = frame.groupby(["agent", "example_id"])["labeled_at"].min()
    new_by_agent = (first_labeled >= recent_start).groupby(level="agent").sum()
    for agent in sorted(set(agents) | set(examples.get("agent", pd.Series(dtype=object)))):
        mine = examples.loc[examples["agent"] == agent] if not examples.empty else examples
        count = len(mine)
        if count < min_agent_examples:
            flags.append(
                RedFlag("few_examples", agent, count, min_agent_examples,
                        f"{agent} has {count} labeled examples (fewer than {min_agent_examples})")
            )
        new = int(new_by_agent.get(agent, 0))
        if new < min_agent_new:
            flags.append(
                RedFlag("slow_growth", agent, new, min_agent_new,
                        f"{agent} got {new} new examples in the last {RECENT_DAYS} days (fewer than {min_agent_new})")
            )
        if count:
            shares = mine["label"].value_counts(normalize=True)
            top_label, top_share = int(shares.idxmax()), float(shares.max())
            if top_share > max_label_share:
                flags.append(
                    RedFlag("label_imbalance", agent, round(top_share, 6), max_label_share,
                            f"{agent}: {top_share:.0%} of examples have label {top_label} (more than {max_label_share:.0%})")
                )
    return flags


def daily_growth(labels: pd.DataFrame, as_of, days: int = 30, *, agent: str | None = None) -> pd.DataFrame:
    """Label rows per source per UTC day over [as_of - days, as_of): columns `day` (midnight),
    `source`, `examples`; every day and every source listed, zero-filled. Optionally one agent."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = utc_naive(as_of)
    start = end - timedelta(days=days)
    frame = _labels_before(labels, end)
    frame = frame.loc[frame["labeled_at"] >= start]
    if agent is not None:
        frame = frame.loc[frame["agent"] == agent]
    counts = frame.groupby([frame["labeled_at"].dt.normalize().rename("day"), "source"]).size()
    last_day = (end - pd.Timedelta(microseconds=1)).normalize()
    grid = pd.MultiIndex.from_product(
        [pd.date_range(start.normalize(), last_day, freq="D"), list(LABEL_SOURCES)], names=["day", "source"]
    )
    return counts.reindex(grid, fill_value=0).astype("int64").rename("examples").reset_index()

