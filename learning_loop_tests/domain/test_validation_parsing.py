"""The SQL fast paths of the row rules parse exactly as the pandas parsers they stand in for.

`domain.validation` casts the common spellings of numbers and timestamps in DuckDB and sends every
other distinct value to `pd.to_numeric` / `pd.to_datetime(format="ISO8601")`. These tests generate
many values inside the fast forms (edge digits, signs, dots, leading zeros, impossible dates, every
offset) and require the two readings to be identical, bit for bit.
"""

from __future__ import annotations

import random
import sys

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from learning_loop.domain.validation import (
    FAST_NUMBER,
    FAST_NUMBER_MAX_CHARS,
    FAST_TIMESTAMP,
    WHITESPACE,
    _literal,
    distinct_keys,
    latest_per_key,
    validate_labels,
    validate_metrics,
)


def _duck(values: list[str], expression: str, fast: str) -> pd.DataFrame:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("v", pa.table({"x": pa.array(values, pa.string())}))
    return con.sql(f"SELECT x, {fast} AS fast, {expression} AS value FROM v").df()


def test_whitespace_is_what_str_strip_removes():
    assert set(WHITESPACE) == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


def test_fast_numbers_cast_exactly_as_pandas_parses_them():
    rng = random.Random(7)
    values = {"0", "-0", "+0", ".5", "5.", "007", "1.", "-.0", "999999999999999", "0.1", "0.30000000000001"}
    alphabet = "0123456789" * 3 + "+-."
    while len(values) < 60_000:
        values.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, FAST_NUMBER_MAX_CHARS))))
    fast = f"(length(x) <= {FAST_NUMBER_MAX_CHARS} AND regexp_full_match(x, {_literal(FAST_NUMBER)}))"
    frame = _duck(sorted(values), "TRY_CAST(x AS DOUBLE)", fast)
    frame = frame[frame["fast"]]
    assert len(frame) > 10_000
    expected = pd.to_numeric(frame["x"].astype(object), errors="coerce").astype("float64").to_numpy()
    got = frame["value"].to_numpy(dtype="float64")
    assert np.array_equal(expected, got) and not np.isnan(got).any()


def test_fast_timestamps_cast_exactly_as_pandas_parses_them():
    rng = random.Random(11)

    def two(low: int, high: int) -> str:
        return f"{rng.randint(low, high):02d}"

    values = set()
    while len(values) < 40_000:
        year = rng.choice(["1900", "1970", "1999", "2000", "2024", "2028", "2099", "2100", "1899"])
        fraction = rng.choice(["", "." + str(rng.randint(0, 999_999)).zfill(6)[: rng.randint(1, 6)]])
        offset = rng.choice(["", "Z", "+00:00", "-00:00", "+02:00", "-05:30", "+13:59", "-12:00", "+09:45", "+14:00"])
        values.add(f"{year}-{two(0, 13)}-{two(0, 32)}{rng.choice('T ')}{two(0, 24)}:{two(0, 60)}:{two(0, 60)}{fraction}{offset}")
    fast = f"(regexp_full_match(x, {_literal(FAST_TIMESTAMP)}) AND TRY_CAST(x AS TIMESTAMPTZ) IS NOT NULL)"
    cast = "CAST(TRY_CAST(x AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
    frame = _duck(sorted(values), cast, fast)
    frame = frame[frame["fast"]]
    assert len(frame) > 5_000
    expected = pd.to_datetime(frame["x"].astype(object), utc=True, format="ISO8601", errors="coerce")
    expected = expected.dt.tz_localize(None).astype("datetime64[us]").to_numpy()
    assert np.array_equal(expected, pd.to_datetime(frame["value"]).astype("datetime64[us]").to_numpy())


@pytest.mark.parametrize("text,reason", [
    ("1e3", None), ("1_000", "unparsable number in views: 1_000"), ("+-5", "unparsable number in views: +-5"),
    ("nan", "non-finite number in views"), ("1e400", "non-finite number in views"),
    ("0x10", "unparsable number in views: 0x10"), ("9" * 20, "count too large in views (above 9007199254740992)"),
])
def test_values_outside_the_fast_form_keep_the_pandas_reading(text, reason):
    """`1_000` casts in DuckDB but not in pandas (and pandas is the reference): the odd values go to pandas."""
    raw = pd.DataFrame({"project_id": ["p"], "video_id": ["v"], "observed_at": ["2024-01-05T00:00:00Z"], "views": [text],
                        "likes": ["1"], "comments": ["0"], "avg_view_duration_s": ["3"], "row_number": [1]})
    result = validate_metrics(raw)
    assert (result.quarantined["reason"].tolist() or [None]) == [reason]


def test_odd_timestamps_are_read_by_pandas_and_the_fast_ones_by_duckdb_in_the_same_column():
    observed = ["2024-01-05T10:00:00Z", "2024-01-05", "2024-01-05T11:30+02:00", "20240105T100000", "last tuesday"]
    raw = pd.DataFrame({"project_id": "p", "video_id": [f"v{i}" for i in range(5)], "observed_at": observed, "views": "1",
                        "likes": "1", "comments": "0", "avg_view_duration_s": "3", "row_number": range(1, 6)})
    result = validate_metrics(raw)
    assert result.valid["observed_at"].tolist() == [
        pd.Timestamp("2024-01-05 10:00"), pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-05 09:30"), pd.Timestamp("2024-01-05 10:00")]
    assert result.quarantined["reason"].tolist() == ["unparsable timestamp in observed_at: last tuesday"]


def test_latest_per_key_follows_the_order_column_not_the_position():
    rows = pa.table({"k": ["a", "b", "a", "a"], "order": [3, 1, 9, 5], "v": [1, 2, 3, 4]})
    assert sorted(latest_per_key(rows, ["k"], order="order").to_pylist(), key=lambda r: r["k"]) == [
        {"k": "a", "order": 9, "v": 3}, {"k": "b", "order": 1, "v": 2}]
    assert sorted(latest_per_key(rows, ["k"])["v"].to_pylist()) == [2, 4]  # by position: the last row wins
    assert latest_per_key(rows.slice(0, 2), ["k"]).num_rows == 2


def test_distinct_keys_strip_and_leave_out_missing_and_unstorable_keys():
    raw = pa.table({"project_id": [" p ", "p", None, "p\x00", "q", ""], "video_id": ["v", "v ", "v", "v", "w", "x"]})
    assert sorted(distinct_keys(raw, ["project_id", "video_id"]).to_pylist(), key=str) == [
        {"project_id": "p", "video_id": "v"}, {"project_id": "q", "video_id": "w"}]


def test_negative_zero_reads_as_zero_on_both_paths():
    """`-0` (DuckDB's cast) and `-0e0` (pandas) both load as 0.0, never -0.0."""
    raw = pd.DataFrame({"agent": "a", "example_id": ["e1", "e2"], "source": "gold", "label": "1",
                        "labeled_at": "2024-01-01T00:00:00", "f_x": ["-0", "-0e0"], "row_number": [1, 2]})
    values = validate_labels(raw).valid["f_x"].to_numpy()
    assert (values == 0).all() and not np.signbit(values).any()


def test_feature_columns_differing_only_in_case_stay_apart():
    """DuckDB matches names regardless of case; the rules address columns by position."""
    raw = pd.DataFrame({"agent": "a", "example_id": ["e1", "e2"], "source": "gold", "label": "1",
                        "labeled_at": "2024-01-01T00:00:00", "f_a": ["oops", "1"], "f_A": ["2", "2"], "row_number": [1, 2]})
    result = validate_labels(raw)
    assert result.quarantined["reason"].tolist() == ["unparsable number in f_a: oops"]
    assert result.valid[["f_a", "f_A", "features"]].values.tolist() == [[1.0, 2.0, '{"A": 2.0, "a": 1.0}']]


def test_rows_in_any_order_keep_their_own_values_and_raw_text():
    raw = pd.DataFrame({"agent": "a", "example_id": ["e1", "e2", "e3"], "source": ["gold", "Gold", "nope"],
                        "label": "1", "labeled_at": "2024-01-01T00:00:00", "row_number": [30, 10, 20]})
    result = validate_labels(raw)
    assert result.valid[["row_number", "example_id", "source"]].values.tolist() == [[10, "e2", "gold"], [30, "e1", "gold"]]
    assert result.quarantined["row_number"].tolist() == [20]
    assert '"example_id": "e3"' in result.quarantined["raw"].iloc[0]
