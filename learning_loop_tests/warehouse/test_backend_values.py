"""Values survive the warehouse's insert path unchanged on both backends (PostgreSQL inserts by COPY)."""

from __future__ import annotations

import pandas as pd

from learning_loop.warehouse.backend import Warehouse, _null_marker


def test_text_that_looks_like_copys_null_marker_stays_text(warehouse: Warehouse):
    """A topic literally `\\N` (or `\\N1`) is text, not NULL; a missing value is NULL; empty stays empty."""
    topics = ["\\N", "\\N1", "", None, "plain, with comma", 'quote " inside']
    frame = pd.DataFrame(
        {
            "project_id": "p",
            "video_id": [f"v{i}" for i in range(len(topics))],
            "published_at": pd.Timestamp("2024-01-01 10:00:00"),
            "topic": topics,
            "topic_hash": [f"h{i}" for i in range(len(topics))],
        }
    )
    with warehouse.transaction() as tx:
        tx.insert_df("videos", frame)
    stored = warehouse.query_df("SELECT video_id, topic FROM videos ORDER BY video_id")
    got = {row.video_id: (None if pd.isna(row.topic) else row.topic) for row in stored.itertuples()}
    assert got == {f"v{i}": topic for i, topic in enumerate(topics)}


def test_null_marker_avoids_every_text_value():
    assert _null_marker(pd.DataFrame({"a": ["x", None]})) == "\\N"
    marker = _null_marker(pd.DataFrame({"a": ["\\N", "\\N1", None], "b": [1.0, None, 2.0]}))
    assert marker not in {"\\N", "\\N1"} and marker.startswith("\\N")
    assert _null_marker(pd.DataFrame({"a": pd.Series([], dtype=object)})) == "\\N"


def test_scored_once_check_finds_a_reward_without_its_mature_outcome(warehouse: Warehouse):
    """The percentile_rewards check (a set difference, see defs/core/checks.py) on both backends."""
    from datetime import date, datetime
    from types import SimpleNamespace

    from learning_loop.defs.core.checks import mature_videos_scored_once

    d = date(2024, 1, 20)
    outcomes = pd.DataFrame(
        {"partition_date": d, "project_id": "p", "video_id": ["a", "b", "c"],
         "published_at": [datetime(2024, 1, 10), datetime(2024, 1, 11), datetime(2024, 1, 12)],
         "is_mature": [True, True, False]}
    )
    rewards = pd.DataFrame({"partition_date": d, "project_id": "p", "video_id": ["a", "b"], "reward": [0.25, 0.75]})
    with warehouse.transaction() as tx:
        tx.insert_df("outcomes", outcomes)
        tx.insert_df("percentile_rewards", rewards)
        passed, meta = mature_videos_scored_once(tx, d, SimpleNamespace(window_days=30))
        assert passed and meta["unmatched"] == 0
        tx.execute("UPDATE percentile_rewards SET video_id = 'c' WHERE video_id = 'b'")  # c is not mature
        passed, meta = mature_videos_scored_once(tx, d, SimpleNamespace(window_days=30))
        assert not passed and meta["unmatched"] == 1
