"""Reference definitions of a video's outcome as of T (SPEC §4).

The warehouse computes outcomes in SQL (`dbt_like_sql/core/outcomes.sql`);
these plain functions state the same rules for one video and are what the
tests cross-check the SQL against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MATURITY = timedelta(hours=6)


@dataclass(frozen=True)
class Snapshot:
    observed_at: datetime
    views: int
    likes: int = 0
    comments: int = 0
    avg_view_duration_s: float = 0.0
    followers_gained: int | None = None


@dataclass(frozen=True)
class Outcome:
    views_6h: float | None
    is_mature: bool
    views: int | None
    likes: int | None
    comments: int | None
    avg_view_duration_s: float | None
    followers_gained: int | None
    engagement_rate: float | None
    follow_through: bool | None


def visible(published_at: datetime, snapshots: Sequence[Snapshot], as_of: datetime) -> list[Snapshot]:
    """Snapshots observed before T and not before publish, in time order."""
    return sorted((s for s in snapshots if published_at <= s.observed_at < as_of), key=lambda s: s.observed_at)


def views_at_6h(published_at: datetime, snapshots: Sequence[Snapshot], as_of: datetime) -> float | None:
    """Cumulative views at publish + 6h: exact, else linear between the neighbours
    (publish counts as a snapshot with 0 views); None while nothing is seen at or after 6h."""
    target = published_at + MATURITY
    seen = visible(published_at, snapshots, as_of)
    after = next((s for s in seen if s.observed_at >= target), None)
    if after is None:
        return None
    if after.observed_at == target:
        return float(after.views)
    before = [s for s in seen if s.observed_at <= target]
    t0, v0 = (before[-1].observed_at, float(before[-1].views)) if before else (published_at, 0.0)
    span = (after.observed_at - t0).total_seconds()
    return v0 + (after.views - v0) * (target - t0).total_seconds() / span


def engagement_rate(likes: int, comments: int, views: int) -> float:
    """(likes + comments) / views; 0 when views is 0."""
    return 0.0 if views == 0 else (likes + comments) / views


def outcome(published_at: datetime, snapshots: Sequence[Snapshot], as_of: datetime) -> Outcome:
    seen = visible(published_at, snapshots, as_of)
    v6 = views_at_6h(published_at, snapshots, as_of)
    if not seen:
        return Outcome(v6, v6 is not None, None, None, None, None, None, None, None)
    last = seen[-1]
    return Outcome(
        views_6h=v6,
        is_mature=v6 is not None,
        views=last.views,
        likes=last.likes,
        comments=last.comments,
        avg_view_duration_s=last.avg_view_duration_s,
        followers_gained=last.followers_gained,
        engagement_rate=engagement_rate(last.likes, last.comments, last.views),
        follow_through=None if last.followers_gained is None else last.followers_gained > 0,
    )
