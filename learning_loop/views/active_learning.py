"""Read-only views of the labeled-data feeds (runbook 003 "Check Labeled Data Pipeline", SPEC §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from learning_loop.domain.active_learning.examples import daily_growth, labeled_stats, utc_naive
from learning_loop.warehouse.backend import Warehouse

LABEL_COLUMNS = "agent, example_id, source, label, labeled_at, confidence"


def label_rows(wh: Warehouse, as_of: datetime | pd.Timestamp | str) -> pd.DataFrame:
    """Label rows (one per agent, example and source) labeled strictly before `as_of`, without features."""
    return wh.query_df(
        f"SELECT {LABEL_COLUMNS} FROM labels WHERE labeled_at < :as_of ORDER BY agent, example_id, source",
        {"as_of": utc_naive(as_of).to_pydatetime()},
    )


def labeled_stats_view(wh: Warehouse, as_of: datetime | pd.Timestamp | str) -> dict[str, Any]:
    """`{"total", "by_source", "by_agent", "recent_7d"}` over label rows labeled before `as_of`
    (`recent_7d`: those labeled in the 7 days before it); exactly these keys (SPEC §9)."""
    stats = labeled_stats(label_rows(wh, as_of), as_of)
    return {key: stats[key] for key in ("total", "by_source", "by_agent", "recent_7d")}


def labeled_growth_view(wh: Warehouse, as_of: datetime | pd.Timestamp | str, days: int = 30) -> dict[str, Any]:
    """Label rows per source per UTC day over the `days` days before `as_of` (the runbook's
    "Labeled Data Growth" panel): `{"as_of", "days", "sources", "rows": [{"day", <source>: n, ...}]}`."""
    growth = daily_growth(label_rows(wh, as_of), as_of, days=days)
    table = growth.pivot(index="day", columns="source", values="examples").sort_index()
    rows = [
        {"day": pd.Timestamp(day).date().isoformat(), **{str(s): int(n) for s, n in counts.items()}}
        for day, counts in table.iterrows()
    ]
    return {
        "as_of": utc_naive(as_of).isoformat(),
        "days": days,
        "sources": [str(s) for s in table.columns],
        "rows": rows,
    }
