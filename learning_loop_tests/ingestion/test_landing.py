"""Landing zone → warehouse (SPEC §1–2, §7), on DuckDB and on PostgreSQL.

Every test calls `ingest_landing` directly on a fresh warehouse (the
`warehouse` fixture is parametrised over both backends) and a landing root
under tmp_path with `videos/` and `metrics/` folders.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learning_loop.ingestion.landing import ingest_landing
from learning_loop.warehouse.backend import Warehouse

VIDEO_HEADER = [
    "project_id",
    "video_id",
    "published_at",
    "topic",
    "preset",
    "hook_type",
    "scene_count",
    "ending_type",
    "narration_wpm",
    "caption_density",
]
METRIC_HEADER = ["project_id", "video_id", "observed_at", "views", "likes", "comments", "avg_view_duration_s"]
TABLES = ("videos", "metric_snapshots", "quarantine", "ingested_files")


def vrow(video_id: str, published_at: str = "2024-01-05T10:00:00Z", topic: str = "topic", **changes) -> list[str]:
    row = dict(
        project_id="proj",
        video_id=video_id,
        published_at=published_at,
        topic=topic,
        preset="DARK_DYSTOPIAN_ANIME",
        hook_type="question",
        scene_count="7",
        ending_type="cliffhanger",
        narration_wpm="140",
        caption_density="0.45",
    )
    row.update(changes)
    return [row[c] for c in VIDEO_HEADER]


def mrow(video_id: str, observed_at: str, views: str = "100", **changes) -> list[str]:
    row = dict(
        project_id="proj",
        video_id=video_id,
        observed_at=observed_at,
        views=views,
        likes="10",
        comments="2",
        avg_view_duration_s="20.5",
    )
    row.update(changes)
    return [row[c] for c in METRIC_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    (landing / "videos").mkdir(parents=True)
    (landing / "metrics").mkdir(parents=True)
    return landing


def _plain(value):
    if value is None:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return pd.Timestamp(value).tz_localize(None) if pd.Timestamp(value).tzinfo else pd.Timestamp(value)
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def rows(warehouse: Warehouse, sql: str, params: dict | None = None) -> list[dict]:
    """Query results as plain Python values, the same on both backends."""
    frame = warehouse.query_df(sql, params)
    return [{k: _plain(v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")]


def counts(warehouse: Warehouse) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return {t: int(n) for t, n in warehouse.query_df(sql).itertuples(index=False, name=None)}


def ledger(warehouse: Warehouse) -> list[dict]:
    return rows(
        warehouse,
        "SELECT kind, file_name, sha256, status, rows_read, rows_loaded, rows_quarantined, reason, loaded_at "
        "FROM ingested_files ORDER BY loaded_at, kind, file_name",
    )


def assert_ledger_invariant(warehouse: Warehouse) -> None:
    for entry in ledger(warehouse):
        if entry["status"] == "loaded":
            assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_quarantined"], entry


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disk_state(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- CSV and Parquet


def _write_video_parquet(path: Path) -> None:
    utc = timezone.utc
    table = pa.table(
        {
            "project_id": pa.array(["proj", "proj"]),
            "video_id": pa.array(["pq1", "pq2"]),
            "published_at": pa.array(
                [datetime(2024, 1, 5, 12, 0, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 1, 6, 9, 30, tzinfo=utc)],
                type=pa.timestamp("us", tz="UTC"),
            ),
            "topic": pa.array(["Parquet one", "Parquet two"]),
            "preset": pa.array(["NEON_NOIR", "NEON_NOIR"]),
            "hook_type": pa.array(["story", "story"]),
            "scene_count": pa.array([6, None], type=pa.int64()),  # pq2 is manual: no scene_count
            "ending_type": pa.array(["loop", "loop"]),
            "narration_wpm": pa.array([165.5, 150.0], type=pa.float64()),
            "caption_density": pa.array([0.2, 0.7], type=pa.float64()),
            "quality_score": pa.array([0.75, None], type=pa.float64()),
        }
    )
    pq.write_table(table, path)


def _write_metric_parquet(path: Path) -> None:
    table = pa.table(
        {
            "project_id": pa.array(["proj"] * 3),
            "video_id": pa.array(["pq1", "pq1", "pq2"]),
            "observed_at": pa.array(
                [datetime(2024, 1, 5, 16), datetime(2024, 1, 6, 10), datetime(2024, 1, 6, 12)], type=pa.timestamp("us")
            ),
            "views": pa.array([500, 900, -5], type=pa.int64()),  # the last row is bad (negative count)
            "likes": pa.array([50, 80, 1], type=pa.int64()),
            "comments": pa.array([5, 9, 0], type=pa.int64()),
            "avg_view_duration_s": pa.array([22.5, 23.0, 10.0], type=pa.float64()),
            "followers_gained": pa.array([3, None, None], type=pa.int64()),
        }
    )
    pq.write_table(table, path)


def test_csv_and_parquet_both_load(warehouse: Warehouse, root: Path):
    write_csv(root / "videos" / "a.csv", VIDEO_HEADER, [vrow("csv1", "2024-01-05T08:00:00+01:00")])
    _write_video_parquet(root / "videos" / "b.parquet")
    write_csv(root / "metrics" / "a.csv", METRIC_HEADER, [mrow("csv1", "2024-01-05T13:00:00")])
    _write_metric_parquet(root / "metrics" / "b.parquet")

    report = ingest_landing(warehouse, root)
    assert [(f.kind, f.file_name, f.status) for f in report.files] == [
        ("videos", "a.csv", "loaded"),
        ("videos", "b.parquet", "loaded"),
        ("metrics", "a.csv", "loaded"),
        ("metrics", "b.parquet", "loaded"),
    ]

    videos = {r["video_id"]: r for r in rows(warehouse, "SELECT * FROM videos")}
    assert set(videos) == {"csv1", "pq1", "pq2"}
    assert videos["csv1"]["published_at"] == pd.Timestamp("2024-01-05 07:00:00")
    assert videos["pq1"]["published_at"] == pd.Timestamp("2024-01-05 10:00:00")
    assert videos["pq2"]["published_at"] == pd.Timestamp("2024-01-06 09:30:00")
    pq1 = videos["pq1"]
    assert (pq1["scene_count"], pq1["narration_wpm_bucket"], pq1["caption_density_bucket"]) == (6, "fast", "sparse")
    assert pq1["quality_score"] == 0.75 and pq1["recipe_hash"] is not None
    assert videos["pq2"]["scene_count"] is None and videos["pq2"]["recipe_hash"] is None  # manual video
    assert videos["pq2"]["quality_score"] is None

    snaps = rows(warehouse, "SELECT * FROM metric_snapshots ORDER BY video_id, observed_at")
    assert [(s["video_id"], s["observed_at"], s["views"], s["followers_gained"]) for s in snaps] == [
        ("csv1", pd.Timestamp("2024-01-05 13:00:00"), 100, None),
        ("pq1", pd.Timestamp("2024-01-05 16:00:00"), 500, 3),
        ("pq1", pd.Timestamp("2024-01-06 10:00:00"), 900, None),
    ]
    quarantined = rows(warehouse, "SELECT * FROM quarantine")
    assert len(quarantined) == 1
    assert (quarantined[0]["file_name"], quarantined[0]["row_number"]) == ("b.parquet", 3)
    assert quarantined[0]["reason"] == "negative count in views"
    assert json.loads(quarantined[0]["raw"])["views"] == "-5"


def test_ledger_rows_have_sha256_status_and_counts(warehouse: Warehouse, root: Path):
    videos = write_csv(
        root / "videos" / "v.csv",
        VIDEO_HEADER,
        [vrow("v1"), vrow("v2", hook_type="shouting"), vrow("v3"), vrow("v4", scene_count="12")],
    )
    metrics = write_csv(
        root / "metrics" / "m.csv",
        METRIC_HEADER,
        [
            mrow("v1", "2024-01-05T12:00:00Z"),
            mrow("v1", "2024-01-05T18:00:00Z", views="-1"),
            mrow("v3", "2024-01-06T00:00:00Z"),
        ],
    )
    before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=5)
    report = ingest_landing(warehouse, root)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == 7
    assert report.summary()["files_loaded"] == 2

    entries = {e["kind"]: e for e in ledger(warehouse)}
    assert entries["videos"] | {"loaded_at": None} == {
        "kind": "videos",
        "file_name": "v.csv",
        "sha256": sha256(videos),
        "status": "loaded",
        "rows_read": 4,
        "rows_loaded": 2,
        "rows_quarantined": 2,
        "reason": None,
        "loaded_at": None,
    }
    assert entries["metrics"]["sha256"] == sha256(metrics)
    assert (entries["metrics"]["rows_read"], entries["metrics"]["rows_loaded"], entries["metrics"]["rows_quarantined"]) == (
        3,
        2,
        1,
    )
    for entry in entries.values():
        assert before <= entry["loaded_at"] <= datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=5)
    assert_ledger_invariant(warehouse)
    assert counts(warehouse) == {"videos": 2, "metric_snapshots": 2, "quarantine": 3, "ingested_files": 2}


# --------------------------------------------------------------------------- re-drops and supersede


def test_same_content_is_skipped_even_under_another_name(warehouse: Warehouse, root: Path):
    first = write_csv(root / "videos" / "2024-01-05.csv", VIDEO_HEADER, [vrow("v1"), vrow("v2", topic="")])
    write_csv(root / "metrics" / "m.csv", METRIC_HEADER, [mrow("v1", "2024-01-05T12:00:00Z")])
    ingest_landing(warehouse, root)
    state = (counts(warehouse), ledger(warehouse), rows(warehouse, "SELECT * FROM videos"))

    again = ingest_landing(warehouse, root)  # nothing new
    assert [f.status for f in again.files] == ["skipped", "skipped"]
    shutil.copyfile(first, root / "videos" / "2024-01-09_copy.csv")
    shutil.copyfile(root / "metrics" / "m.csv", root / "metrics" / "z.csv")
    report = ingest_landing(warehouse, root)

    by_name = {f.file_name: f for f in report.files}
    assert by_name["2024-01-09_copy.csv"].status == "skipped"
    assert by_name["z.csv"].status == "skipped"
    assert report.rows_read == report.rows_loaded == report.rows_quarantined == 0
    assert report.summary()["files_loaded"] == 0
    assert (counts(warehouse), ledger(warehouse), rows(warehouse, "SELECT * FROM videos")) == state


def test_same_name_with_new_content_loads_again_and_supersedes(warehouse: Warehouse, root: Path):
    path = write_csv(root / "videos" / "batch.csv", VIDEO_HEADER, [vrow("v1", topic="old"), vrow("v2", topic="keep")])
    write_csv(root / "metrics" / "m.csv", METRIC_HEADER, [mrow("v1", "2024-01-05T12:00:00Z", views="10")])
    ingest_landing(warehouse, root)
    old_sha = sha256(path)

    time.sleep(0.01)
    write_csv(path, VIDEO_HEADER, [vrow("v1", topic="new", hook_type="mystery"), vrow("v3", topic="added")])
    write_csv(root / "metrics" / "m.csv", METRIC_HEADER, [mrow("v1", "2024-01-05T12:00:00+00:00", views="15")])
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in report.files] == [("batch.csv", "loaded"), ("m.csv", "loaded")]

    videos = {r["video_id"]: r for r in rows(warehouse, "SELECT video_id, topic, hook_type FROM videos")}
    assert {k: v["topic"] for k, v in videos.items()} == {"v1": "new", "v2": "keep", "v3": "added"}
    assert videos["v1"]["hook_type"] == "mystery"
    snaps = rows(warehouse, "SELECT video_id, observed_at, views FROM metric_snapshots")
    assert snaps == [{"video_id": "v1", "observed_at": pd.Timestamp("2024-01-05 12:00:00"), "views": 15}]

    entries = [e for e in ledger(warehouse) if e["file_name"] == "batch.csv"]
    assert [e["sha256"] for e in entries] == [old_sha, sha256(path)]
    assert all(e["status"] == "loaded" for e in entries)
    assert_ledger_invariant(warehouse)


def test_later_row_for_the_same_key_wins_within_one_file(warehouse: Warehouse, root: Path):
    write_csv(
        root / "videos" / "v.csv",
        VIDEO_HEADER,
        [vrow("v1", topic="first"), vrow("v2", topic="other"), vrow("v1", topic="second"), vrow("v1", topic="third")],
    )
    write_csv(
        root / "metrics" / "m.csv",
        METRIC_HEADER,
        [
            mrow("v1", "2024-01-05T12:00:00Z", views="1"),
            mrow("v1", "2024-01-05T12:00:00", views="2"),  # the same instant, written without offset
            mrow("v1", "2024-01-05T13:00:00+01:00", views="3"),  # and with an offset: still the same key
        ],
    )
    report = ingest_landing(warehouse, root)
    assert rows(warehouse, "SELECT video_id, topic FROM videos ORDER BY video_id") == [
        {"video_id": "v1", "topic": "third"},
        {"video_id": "v2", "topic": "other"},
    ]
    assert rows(warehouse, "SELECT views, source_row FROM metric_snapshots") == [{"views": 3, "source_row": 3}]
    # superseded rows still count as loaded: nothing is silently dropped
    assert report.rows_read == 7 and report.rows_loaded == 7 and report.rows_quarantined == 0
    assert_ledger_invariant(warehouse)


def test_processing_order_is_file_name_order_then_row_order(warehouse: Warehouse, root: Path):
    # written in the opposite order, so modification times disagree with the names
    write_csv(root / "videos" / "9.csv", VIDEO_HEADER, [vrow("v1", topic="from 9"), vrow("v2", topic="from 9")])
    time.sleep(0.01)
    write_csv(root / "videos" / "10.csv", VIDEO_HEADER, [vrow("v1", topic="from 10"), vrow("v3", topic="from 10")])
    time.sleep(0.01)
    write_csv(root / "videos" / "2024-01-01.csv", VIDEO_HEADER, [vrow("v2", topic="from 2024-01-01")])
    report = ingest_landing(warehouse, root)
    assert [f.file_name for f in report.files] == ["10.csv", "2024-01-01.csv", "9.csv"]  # lexicographic, not natural
    topics = {r["video_id"]: r["topic"] for r in rows(warehouse, "SELECT video_id, topic FROM videos")}
    assert topics == {"v1": "from 9", "v2": "from 9", "v3": "from 10"}


# --------------------------------------------------------------------------- rejected files


def test_unreadable_files_are_rejected_with_a_reason(warehouse: Warehouse, root: Path):
    no_views = [c for c in METRIC_HEADER if c != "views"]
    write_csv(root / "metrics" / "a_missing_views.csv", no_views, [["proj", "v1", "2024-01-05", "1", "1", "2.0"]])
    (root / "metrics" / "b_export.json").write_text(json.dumps([{"project_id": "proj"}]))
    (root / "videos" / "latin1.csv").write_bytes(
        (",".join(VIDEO_HEADER) + "\n" + ",".join(vrow("v9", topic="café crème")) + "\n").encode("latin-1")
    )
    write_csv(root / "videos" / "good.csv", VIDEO_HEADER, [vrow("v1")])
    # a trailing comma on every data row: pandas would take the first column as an index and
    # shift every value one column left; the file must be rejected, not loaded misaligned
    (root / "videos" / "ragged.csv").write_text(
        ",".join(VIDEO_HEADER) + "\n" + ",".join(vrow("v7")) + ",\n" + ",".join(vrow("v8")) + ",\n"
    )
    report = ingest_landing(warehouse, root)

    status = {f.file_name: f.status for f in report.files}
    assert status == {
        "latin1.csv": "rejected",
        "good.csv": "loaded",
        "ragged.csv": "rejected",
        "a_missing_views.csv": "rejected",
        "b_export.json": "rejected",
    }
    entries = {e["file_name"]: e for e in ledger(warehouse)}
    assert len(entries) == 5
    assert "more fields than the header" in entries["ragged.csv"]["reason"]
    assert "views" in entries["a_missing_views.csv"]["reason"] and "missing" in entries["a_missing_views.csv"]["reason"]
    assert ".json" in entries["b_export.json"]["reason"]
    assert "UTF-8" in entries["latin1.csv"]["reason"]
    for name in ("a_missing_views.csv", "b_export.json", "latin1.csv", "ragged.csv"):
        entry = entries[name]
        assert entry["status"] == "rejected"
        assert entry["sha256"] == sha256(next(root.rglob(name)))
        assert entry["rows_loaded"] in (0, None) and entry["rows_quarantined"] in (0, None)
    # nothing of the rejected files loaded, the good file did
    assert rows(warehouse, "SELECT video_id FROM videos") == [{"video_id": "v1"}]
    assert counts(warehouse)["metric_snapshots"] == 0
    assert counts(warehouse)["quarantine"] == 0
    # a rejected file is not retried while unchanged
    again = ingest_landing(warehouse, root)
    assert {f.status for f in again.files} == {"skipped"}
    assert counts(warehouse)["ingested_files"] == 5


# --------------------------------------------------------------------------- metrics and their videos


def test_metrics_before_their_video_are_kept_and_joined_later(warehouse: Warehouse, root: Path):
    write_csv(
        root / "metrics" / "m1.csv",
        METRIC_HEADER,
        [mrow("v1", "2024-01-05T12:00:00Z", views="100"), mrow("v1", "2024-01-05T18:00:00Z", views="300")],
    )
    ingest_landing(warehouse, root)
    assert counts(warehouse)["metric_snapshots"] == 2
    assert counts(warehouse)["videos"] == 0

    write_csv(root / "videos" / "v1.csv", VIDEO_HEADER, [vrow("v1", "2024-01-05T10:00:00Z")])
    report = ingest_landing(warehouse, root)
    assert report.late_quarantined == 0
    joined = rows(
        warehouse,
        "SELECT v.video_id, v.published_at, m.views FROM videos v JOIN metric_snapshots m "
        "ON m.project_id = v.project_id AND m.video_id = v.video_id ORDER BY m.observed_at",
    )
    assert [j["views"] for j in joined] == [100, 300]
    assert counts(warehouse)["quarantine"] == 0
    assert_ledger_invariant(warehouse)


def test_early_snapshot_in_the_same_run_is_quarantined(warehouse: Warehouse, root: Path):
    write_csv(root / "videos" / "v.csv", VIDEO_HEADER, [vrow("v1", "2024-01-05T10:00:00Z")])
    write_csv(
        root / "metrics" / "m.csv",
        METRIC_HEADER,
        [mrow("v1", "2024-01-05T09:00:00Z"), mrow("v1", "2024-01-05T12:00:00Z")],
    )
    ingest_landing(warehouse, root)
    quarantined = rows(warehouse, "SELECT kind, file_name, row_number, reason FROM quarantine")
    assert quarantined == [
        {"kind": "metrics", "file_name": "m.csv", "row_number": 1, "reason": "observed_at before the video's published_at"}
    ]
    assert counts(warehouse)["metric_snapshots"] == 1


def test_snapshot_found_early_when_its_video_arrives_later_moves_to_quarantine(warehouse: Warehouse, root: Path):
    write_csv(
        root / "metrics" / "m1.csv",
        METRIC_HEADER,
        [
            mrow("v1", "2024-01-05T05:00:00Z", views="1"),  # before the publish time that arrives later
            mrow("v1", "2024-01-05T12:00:00Z", views="100"),
            mrow("v2", "2024-01-05T01:00:00Z", views="7"),  # v2 never arrives: kept
        ],
    )
    ingest_landing(warehouse, root)
    assert counts(warehouse)["metric_snapshots"] == 3

    write_csv(root / "videos" / "v.csv", VIDEO_HEADER, [vrow("v1", "2024-01-05T10:00:00Z")])
    report = ingest_landing(warehouse, root)
    assert report.late_quarantined == 1

    snaps = rows(warehouse, "SELECT video_id, views FROM metric_snapshots ORDER BY video_id, observed_at")
    assert snaps == [{"video_id": "v1", "views": 100}, {"video_id": "v2", "views": 7}]
    moved = rows(warehouse, "SELECT * FROM quarantine")
    assert len(moved) == 1
    assert (moved[0]["kind"], moved[0]["file_name"], moved[0]["row_number"]) == ("metrics", "m1.csv", 1)
    assert "published_at" in moved[0]["reason"]
    raw = json.loads(moved[0]["raw"])
    assert raw["video_id"] == "v1" and int(raw["views"]) == 1
    assert moved[0]["quarantined_at"] is not None

    metric_entry = next(e for e in ledger(warehouse) if e["file_name"] == "m1.csv")
    assert (metric_entry["rows_read"], metric_entry["rows_loaded"], metric_entry["rows_quarantined"]) == (3, 2, 1)
    assert_ledger_invariant(warehouse)


# --------------------------------------------------------------------------- quarantine rows


def test_quarantine_rows_keep_kind_file_row_reason_and_raw_text(warehouse: Warehouse, root: Path):
    write_csv(
        root / "videos" / "v.csv",
        VIDEO_HEADER,
        [vrow("v1"), vrow("v2", topic=" "), vrow("v3"), vrow("v4", published_at="last tuesday", topic="Ünïcode ✓")],
    )
    write_csv(
        root / "metrics" / "m.csv",
        METRIC_HEADER,
        [mrow("v1", "2024-01-05T12:00:00Z", views="inf"), mrow("v1", "2024-01-05T13:00:00Z", likes="007")],
    )
    before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=5)
    ingest_landing(warehouse, root)
    after = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=5)

    q = rows(
        warehouse,
        "SELECT kind, file_name, row_number, reason, raw, quarantined_at FROM quarantine ORDER BY kind DESC, row_number",
    )
    assert [(r["kind"], r["file_name"], r["row_number"]) for r in q] == [
        ("videos", "v.csv", 2),
        ("videos", "v.csv", 4),
        ("metrics", "m.csv", 1),
    ]
    assert [r["reason"] for r in q] == [
        "required value missing: topic",
        "unparsable timestamp in published_at: last tuesday",
        "non-finite number in views",
    ]
    raw = [json.loads(r["raw"]) for r in q]
    assert set(raw[0]) == set(VIDEO_HEADER)
    assert raw[0]["scene_count"] == "7" and raw[0]["narration_wpm"] == "140"  # original text, not parsed numbers
    assert raw[1]["published_at"] == "last tuesday" and raw[1]["topic"] == "Ünïcode ✓"
    assert raw[2]["views"] == "inf" and raw[2]["observed_at"] == "2024-01-05T12:00:00Z"
    for r in q:
        assert before <= r["quarantined_at"] <= after
    # the good metric row loaded with its text parsed ("007" likes)
    assert rows(warehouse, "SELECT likes FROM metric_snapshots") == [{"likes": 7}]


# --------------------------------------------------------------------------- files on disk


def test_files_on_disk_are_never_modified(warehouse: Warehouse, root: Path):
    write_csv(root / "videos" / "v.csv", VIDEO_HEADER, [vrow("v1"), vrow("v2", scene_count="3")])
    _write_video_parquet(root / "videos" / "w.parquet")
    write_csv(
        root / "metrics" / "m.csv", METRIC_HEADER, [mrow("v1", "2024-01-05T05:00:00Z"), mrow("v9", "2024-01-05T05:00:00Z")]
    )
    (root / "metrics" / "x.json").write_text("{}")
    (root / "metrics" / "bad.csv").write_bytes(b"project_id\n\xff\xfe\n")
    before = disk_state(root)
    ingest_landing(warehouse, root)
    write_csv(root / "videos" / "z.csv", VIDEO_HEADER, [vrow("v9", "2024-01-06T00:00:00Z")])  # moves v9's snapshot
    before["videos/z.csv"] = disk_state(root)["videos/z.csv"]
    ingest_landing(warehouse, root)
    ingest_landing(warehouse, root)
    assert disk_state(root) == before
    assert counts(warehouse)["quarantine"] == 3  # scene_count 3, early v1 snapshot, late-found v9 snapshot
    assert_ledger_invariant(warehouse)
