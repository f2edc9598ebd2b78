"""No poison file: hostile landing files never stop ingestion, on DuckDB and on PostgreSQL.

A value PostgreSQL cannot store (a NUL byte) is a quarantine reason on both
backends, a repeated header name rejects the file, a file whose load fails for
any unexpected reason is rejected with the reason while the files after it
load, and (property test) arbitrary bytes and arbitrary cell values always end
as `loaded` or `rejected` with every row accounted for.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning_loop.domain import validation
from learning_loop.ingestion import landing
from learning_loop.ingestion.landing import ingest_landing
from learning_loop.warehouse.backend import Warehouse, WarehouseError, open_warehouse

VIDEO_HEADER = ["project_id", "video_id", "published_at", "topic", "preset", "hook_type", "scene_count",
                "ending_type", "narration_wpm", "caption_density"]
METRIC_HEADER = ["project_id", "video_id", "observed_at", "views", "likes", "comments", "avg_view_duration_s"]
INGESTION_TABLES = ("videos", "metric_snapshots", "quarantine", "ingested_files")


def vrow(video_id: str, topic: str = "topic", **changes: str) -> list[str]:
    row = dict(project_id="proj", video_id=video_id, published_at="2024-01-05T10:00:00Z", topic=topic,
               preset="DARK_DYSTOPIAN_ANIME", hook_type="question", scene_count="7", ending_type="cliffhanger",
               narration_wpm="140", caption_density="0.45")
    row.update(changes)
    return [row[c] for c in VIDEO_HEADER]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ledger(wh: Warehouse) -> list[tuple]:
    frame = wh.query_df(
        "SELECT kind, file_name, status, rows_read, rows_loaded, rows_quarantined, reason FROM ingested_files "
        "ORDER BY kind, file_name"
    )
    return [tuple(None if v is None or v != v else (int(v) if isinstance(v, (int, float)) else v) for v in r)
            for r in frame.astype(object).itertuples(index=False, name=None)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "landing"


# --------------------------------------------------------------------------- NUL bytes


def test_a_nul_byte_is_quarantined_the_same_on_both_backends_and_the_next_file_loads(warehouse: Warehouse, root: Path):
    write(root / "videos" / "a_nul.csv", csv_bytes(VIDEO_HEADER, [vrow("v1", topic="bad\x00topic"), vrow("v2")]))
    write(root / "videos" / "b_good.csv", csv_bytes(VIDEO_HEADER, [vrow("v3")]))
    write(root / "metrics" / "m.csv", csv_bytes(METRIC_HEADER, [
        ["proj", "v2", "2024-01-06T00:00:00Z", "10", "1", "0", "3.5"],
        ["proj", "v\x00", "2024-01-06T00:00:00Z", "10", "1", "0", "3.5"],  # in a key
        ["proj", "v3", "2024-01-06T00:00:00Z", "1\x00", "1", "0", "3.5"],  # in a number: just unparsable
    ]))
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in report.files] == [
        ("a_nul.csv", "loaded"), ("b_good.csv", "loaded"), ("m.csv", "loaded")]
    # the same ledger on both backends (this test runs on each)
    assert ledger(warehouse) == [
        ("metrics", "m.csv", "loaded", 3, 1, 2, None),
        ("videos", "a_nul.csv", "loaded", 2, 1, 1, None),
        ("videos", "b_good.csv", "loaded", 1, 1, 0, None),
    ]
    reasons = dict(warehouse.query_df("SELECT file_name || ':' || CAST(row_number AS VARCHAR) AS k, reason FROM quarantine")
                   .itertuples(index=False, name=None))
    assert reasons == {
        "a_nul.csv:1": "text PostgreSQL cannot store in topic: NUL byte (\\x00)",
        "m.csv:2": "text PostgreSQL cannot store in video_id: NUL byte (\\x00)",
        "m.csv:3": "unparsable number in views: 1\\x00",  # the reason itself is made storable
    }
    raw = json.loads(warehouse.scalar("SELECT raw FROM quarantine WHERE file_name = 'a_nul.csv'"))
    assert raw["topic"] == "bad\x00topic"  # JSON keeps the value exactly (escaped as \u0000)
    assert sorted(warehouse.query_df("SELECT video_id FROM videos")["video_id"]) == ["v2", "v3"]


def test_nul_rule_is_part_of_every_kind_and_first_rules_win():
    raw = validation.pd.DataFrame({
        "agent": ["ok", "ok"], "example_id": ["e\x00", "e2"], "judge": ["j", "j"], "score": ["0.5", "7"],
        "judged_at": ["2024-01-01", "2024-01-01"], "row_number": [1, 2],
    })
    result = validation.validate_judgments(raw)
    assert list(result.quarantined["reason"]) == [
        "text PostgreSQL cannot store in example_id: NUL byte (\\x00)", "score outside [0, 1]"]
    assert result.valid.empty
    assert validation.storable_text("a\x00b") == "a\\x00b"


# --------------------------------------------------------------------------- headers


def test_a_repeated_column_name_rejects_the_file(warehouse: Warehouse, root: Path):
    header = VIDEO_HEADER + ["topic"]
    write(root / "videos" / "a_dupe.csv", csv_bytes(header, [vrow("v1") + ["other topic"]]))
    write(root / "videos" / "b_dupe_spaced.csv", csv_bytes(VIDEO_HEADER + [" video_id "], [vrow("v2") + ["x"]]))
    write(root / "videos" / "c_good.csv", csv_bytes(VIDEO_HEADER, [vrow("v3")]))
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in report.files] == [
        ("a_dupe.csv", "rejected"), ("b_dupe_spaced.csv", "rejected"), ("c_good.csv", "loaded")]
    reasons = {f.file_name: f.reason for f in report.files}
    assert reasons["a_dupe.csv"] == "repeated column name(s) in the header: topic"
    assert reasons["b_dupe_spaced.csv"] == "repeated column name(s) in the header: video_id"
    assert list(warehouse.query_df("SELECT video_id FROM videos")["video_id"]) == ["v3"]


def test_a_column_named_row_number_is_ignored_and_the_file_loads(warehouse: Warehouse, root: Path):
    """No kind has a `row_number` column; the engine's own data row number replaces it."""
    write(root / "videos" / "a.csv", csv_bytes(VIDEO_HEADER + ["row_number"], [vrow("v1") + ["99"], vrow("v2") + ["x"]]))
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status, f.rows_loaded) for f in report.files] == [("a.csv", "loaded", 2)]
    stored = warehouse.query_df("SELECT video_id, source_row FROM videos ORDER BY video_id")
    assert stored.values.tolist() == [["v1", 1], ["v2", 2]]


# --------------------------------------------------------------------------- unexpected failures


def _explode_on(marker: str, error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    real = validation.ROW_VALIDATORS["videos"]

    def exploding(raw):
        if marker in raw.column("video_id").to_pylist():
            raise error
        return real(raw)

    monkeypatch.setitem(landing.ROW_VALIDATORS, "videos", exploding)


def test_a_file_that_fails_to_load_is_rejected_and_never_blocks_the_files_after_it(
    warehouse: Warehouse, root: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, video in (("a.csv", "v1"), ("b_poison.csv", "boom"), ("c.csv", "v3")):
        write(root / "videos" / name, csv_bytes(VIDEO_HEADER, [vrow(video), vrow(video + "_2")]))
    _explode_on("boom", RuntimeError("cannot handle\x00this"), monkeypatch)
    report = ingest_landing(warehouse, root)  # a, b and c form one batch: b spoils it, a and c still load
    assert [(f.file_name, f.status) for f in report.files] == [
        ("a.csv", "loaded"), ("b_poison.csv", "rejected"), ("c.csv", "loaded")]
    assert ledger(warehouse)[1] == (
        "videos", "b_poison.csv", "rejected", 0, 0, 0, "could not be loaded: RuntimeError: cannot handle\\x00this")
    assert sorted(warehouse.query_df("SELECT video_id FROM videos")["video_id"]) == ["v1", "v1_2", "v3", "v3_2"]
    # the next run does not try the rejected file again, and later files load
    write(root / "videos" / "d.csv", csv_bytes(VIDEO_HEADER, [vrow("v4")]))
    again = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in again.files] == [
        ("a.csv", "skipped"), ("b_poison.csv", "skipped"), ("c.csv", "skipped"), ("d.csv", "loaded")]


def test_an_unreachable_warehouse_blames_no_file(warehouse: Warehouse, root: Path, monkeypatch: pytest.MonkeyPatch):
    write(root / "videos" / "a.csv", csv_bytes(VIDEO_HEADER, [vrow("boom")]))
    _explode_on("boom", WarehouseError("cannot connect"), monkeypatch)
    with pytest.raises(WarehouseError):
        ingest_landing(warehouse, root)
    assert ledger(warehouse) == []  # nothing recorded: the file loads once the warehouse is back
    monkeypatch.undo()
    assert ingest_landing(warehouse, root).count("loaded") == 1


# --------------------------------------------------------------------------- property: anything at all

_counter = itertools.count()
_cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", " ", "\x00", "NaN", "-inf", "1e400", "-1", "\\N", '"', "2024-01-05T10:00:00Z", "9999-12-31", "0", "7", "question"])
_hostile = st.one_of(
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
    st.tuples(
        st.sampled_from(["videos", "metrics"]),
        st.lists(st.sampled_from(VIDEO_HEADER + METRIC_HEADER + ["x", "topic", "f_a"]), min_size=1, max_size=9),
        st.lists(st.lists(_cells, min_size=0, max_size=10), max_size=6),
    ).map(lambda t: ("cells", t)),
)


def _write_hostile(root: Path, n: int, spec) -> Path:
    kind, payload = spec
    if kind == "bytes":
        return write(root / ("videos" if n % 2 else "metrics") / f"h{n}.csv", payload)
    folder, header, rows = payload
    # required columns mostly present, so the row rules (not only the header check) get exercised
    required = VIDEO_HEADER[:4] if folder == "videos" else METRIC_HEADER
    header = list(dict.fromkeys(required + header)) if n % 3 else header
    return write(root / folder / f"h{n}.csv", csv_bytes(header, rows))


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_property_any_landing_files_end_loaded_or_rejected_and_later_files_load(backend, request, tmp_path: Path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}" if backend == "duckdb" else request.getfixturevalue("pg_url")
    wh = open_warehouse(url)
    wh.ensure_schema()

    examples = int(os.environ.get("LL_HOSTILE_EXAMPLES", "25"))  # more for a longer hunt; the suite runs 25, fixed

    @settings(max_examples=examples, deadline=None, derandomize=examples == 25, suppress_health_check=list(HealthCheck))
    @given(st.lists(_hostile, min_size=1, max_size=4))
    def check(specs):
        n = next(_counter)
        with wh.transaction() as tx:
            for table in INGESTION_TABLES:
                tx.execute(f"DELETE FROM {table}")
        root = tmp_path / f"landing{n}"
        for i, spec in enumerate(specs):
            _write_hostile(root, n * 10 + i, spec)
        good = write(root / "videos" / "zz_good.csv", csv_bytes(VIDEO_HEADER, [vrow(f"good{n}")]))
        report = ingest_landing(wh, root)  # the run finishes
        statuses = {f.file_name: f.status for f in report.files}
        assert set(statuses.values()) <= {"loaded", "rejected", "skipped"}, statuses
        assert statuses[good.name] in ("loaded", "skipped")  # skipped only when a hostile file had the same bytes
        entries = wh.query_df("SELECT file_name, status, rows_read, rows_loaded, rows_quarantined FROM ingested_files")
        assert set(entries["status"]) <= {"loaded", "rejected"}
        assert len(entries) == sum(s != "skipped" for s in statuses.values())
        loaded = entries[entries["status"] == "loaded"]
        assert (loaded["rows_read"] == loaded["rows_loaded"] + loaded["rows_quarantined"]).all(), loaded
        assert wh.scalar("SELECT count(*) FROM videos WHERE video_id = :v", {"v": f"good{n}"}) == 1
        for result in report.files:
            assert result.status != "loaded" or result.rows_read == result.rows_loaded + result.rows_quarantined

    with wh.session():  # one DuckDB connection for every example (a no-op on PostgreSQL)
        check()
