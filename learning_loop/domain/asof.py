"""As-of semantics (SPEC §4): daily partition D describes the world at T = D + 1 day, 00:00 UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta


def parse_partition_date(value: str) -> date:
    """A `YYYY-MM-DD` partition key; ValueError with a clear message otherwise."""
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a date (expected YYYY-MM-DD): {value!r}") from None
    if len(value) != 10:
        raise ValueError(f"not a date (expected YYYY-MM-DD): {value!r}")
    return parsed


def as_of(partition: date) -> datetime:
    """T = partition date + 1 day at 00:00 UTC (returned naive, as stored)."""
    return datetime.combine(partition + timedelta(days=1), time())


def window_start(partition: date, window_days: int) -> datetime:
    """Start of the reference window: T - window_days."""
    return as_of(partition) - timedelta(days=window_days)
