from datetime import datetime

import pandas as pd
import pytest

from learning_loop.domain.jobs.retention import (
    RETAINED_TABLES,
    ArchiveMismatch,
    ArchivePart,
    by_month,
    content_hash,
    cutoff,
    plan_parts,
    verify,
)


def test_cutoff_is_as_of_minus_days():
    assert cutoff(datetime(2026, 7, 1, 1, 0), 180) == pd.Timestamp("2026-01-02 01:00")
    with pytest.raises(ValueError):
        cutoff(datetime(2026, 7, 1), 0)


def test_retained_tables_never_videos_snapshots_or_partitions():
    assert set(RETAINED_TABLES) == {"labels", "judgments", "decisions", "retrieval_pairs", "quarantine"}


def frame():
    return pd.DataFrame({
        "agent": ["a", "b", None],
        "n": pd.array([1, 2, None], dtype="Int64"),
        "x": [0.5, 1.0, float("nan")],
        "t": pd.to_datetime(["2026-01-31 23:59:59", "2026-02-01 00:00:00", "2026-02-03 00:00:00"]),
    })


def test_content_hash_ignores_row_order_and_dtype_details():
    f = frame()
    again = f.iloc[::-1].copy()
    again["n"] = again["n"].astype("float64")
    again["t"] = again["t"].astype("datetime64[ms]")
    assert content_hash(f) == content_hash(again)
    changed = f.copy()
    changed.loc[0, "x"] = 0.25
    assert content_hash(changed) != content_hash(f)
    assert content_hash(f.iloc[:2]) != content_hash(f)


def test_by_month_and_parts():
    months = by_month(frame(), "t")
    assert list(months) == ["2026-01", "2026-02"] and len(months["2026-02"]) == 2
    parts = plan_parts("labels", frame(), "t")
    assert [(p.month, p.rows) for p, _ in parts] == [("2026-01", 1), ("2026-02", 2)]
    assert parts[0][0].relative_path.startswith("labels/2026-01/labels-2026-01-")


def test_verify_refuses_a_different_read_back():
    f = frame()
    part = ArchivePart("labels", "2026-02", len(f), content_hash(f))
    verify(part, f.copy())
    with pytest.raises(ArchiveMismatch, match="rows read back"):
        verify(part, f.iloc[:2])
    bad = f.copy()
    bad.loc[1, "agent"] = "z"
    with pytest.raises(ArchiveMismatch, match="content hash"):
        verify(part, bad)
