"""Retention cleanup (SPEC §13) on DuckDB and PostgreSQL: archive, verify, delete, idempotent."""

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from learning_loop.domain.jobs.retention import ArchiveMismatch
from learning_loop.stores import retention

AS_OF = datetime(2026, 7, 5, 1, 0)
CUT = AS_OF - timedelta(days=180)
JUST_OUTSIDE = CUT - timedelta(seconds=1)  # older than 180 days: archived
JUST_INSIDE = CUT + timedelta(seconds=1)  # younger: kept


def seed(wh):
    labels = pd.DataFrame([
        {"agent": "triage", "example_id": f"e{i}", "source": "gold", "label": i % 2, "labeled_at": t,
         "features": json.dumps({"x": i}), "input_text": f"in {i}", "expected_output": None,
         "source_file": "f.csv", "source_row": i, "loaded_at": t}
        for i, t in enumerate([JUST_OUTSIDE, JUST_INSIDE, CUT - timedelta(days=40), AS_OF - timedelta(days=1)])
    ])
    decisions = pd.DataFrame([
        {"agent": "triage", "decision_id": f"d{i}", "bundle_id": "b1", "decided_at": t, "quality": 0.5,
         "latency_ms": 10.0, "route_key": None, "source_file": "d.csv", "source_row": i, "loaded_at": t}
        for i, t in enumerate([JUST_OUTSIDE, JUST_INSIDE])
    ])
    judgments = pd.DataFrame([{"agent": "triage", "example_id": "e0", "judge": "j", "score": 0.3,
                               "judged_at": JUST_OUTSIDE, "source_file": "j.csv", "source_row": 1,
                               "loaded_at": JUST_OUTSIDE}])
    pairs = pd.DataFrame([{"query": "q", "document": "d", "relevant": 1, "observed_at": JUST_OUTSIDE,
                           "source_file": "r.csv", "source_row": 1, "loaded_at": JUST_OUTSIDE}])
    quarantine = pd.DataFrame([{"kind": "labels", "file_name": "bad.csv", "row_number": 3, "reason": "label",
                                "raw": "{}", "quarantined_at": t} for t in (JUST_OUTSIDE, JUST_INSIDE)])
    videos = pd.DataFrame([{"project_id": "p", "video_id": "v", "published_at": JUST_OUTSIDE - timedelta(days=100)}])
    with wh.transaction() as tx:
        for name, frame in [("labels", labels), ("decisions", decisions), ("judgments", judgments),
                            ("retrieval_pairs", pairs), ("quarantine", quarantine), ("videos", videos)]:
            tx.insert_df(name, frame)


def counts(wh):
    return {t: int(wh.scalar(f"SELECT COUNT(*) FROM {t}"))
            for t in ("labels", "decisions", "judgments", "retrieval_pairs", "quarantine", "videos")}


def run(wh, home):
    return retention.cleanup(wh, home=home, as_of=AS_OF, retention_days=180, actor="cleanup", ran_as="test")


def test_archive_verify_delete_and_second_run(warehouse, tmp_path):
    seed(warehouse)
    result = run(warehouse, tmp_path)
    assert result.archived == {"labels": 2, "judgments": 1, "decisions": 1, "retrieval_pairs": 1, "quarantine": 1}
    assert result.archived == result.deleted and result.rows_archived == 6
    assert counts(warehouse) == {"labels": 2, "decisions": 1, "judgments": 0, "retrieval_pairs": 0,
                                 "quarantine": 1, "videos": 1}
    kept = warehouse.query_df("SELECT example_id FROM labels ORDER BY example_id")["example_id"].tolist()
    assert kept == ["e1", "e3"]  # just inside the window and recent
    # archive: per table and month, readable, holding exactly the deleted rows
    root = tmp_path / "archive"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert len(files) == 6 and any(f.startswith("labels/2025-11/") for f in files)
    archived_labels = pd.concat([pd.read_parquet(p) for p in (root / "labels").rglob("*.parquet")])
    assert sorted(archived_labels["example_id"]) == ["e0", "e2"]
    assert set(archived_labels.columns) >= {"features", "input_text", "labeled_at"}
    audit = warehouse.query_df("SELECT action, actor, details FROM audit_log")
    assert audit["action"].tolist() == ["cleanup"]
    assert json.loads(audit["details"].iloc[0])["rows_deleted"] == 6
    # a second run archives nothing new and loses nothing
    again = run(warehouse, tmp_path)
    assert again.rows_archived == 0 and again.rows_deleted == 0
    assert counts(warehouse)["labels"] == 2
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet")) == files


def test_crash_between_archive_and_delete_loses_nothing(warehouse, tmp_path, monkeypatch):
    seed(warehouse)
    before = counts(warehouse)

    def crash(*args, **kwargs):
        raise RuntimeError("killed between archive and delete")

    monkeypatch.setattr(retention, "delete_rows", crash)
    with pytest.raises(RuntimeError, match="killed"):
        run(warehouse, tmp_path)
    assert counts(warehouse) == before  # nothing deleted, no audit row
    assert int(warehouse.scalar("SELECT COUNT(*) FROM audit_log")) == 0
    files = sorted((tmp_path / "archive").rglob("*.parquet"))
    assert files  # the archive was written
    monkeypatch.undo()
    result = run(warehouse, tmp_path)
    assert result.rows_archived == result.rows_deleted == 6
    after = sorted((tmp_path / "archive").rglob("*.parquet"))
    assert set(files) <= set(after) and len(after) == 6  # the same labels files reused, no duplicates
    assert len(list((tmp_path / "archive" / "labels").rglob("*.parquet"))) == 2


def test_corrupt_archive_file_stops_the_delete(warehouse, tmp_path):
    seed(warehouse)
    run(warehouse, tmp_path / "first")  # learn the archive's file names
    names = sorted(p.relative_to(tmp_path / "first" / "archive") for p in (tmp_path / "first").rglob("*.parquet"))
    seed(warehouse)  # the same old rows arrive again
    before = counts(warehouse)
    planted = tmp_path / "second" / "archive" / names[0]
    planted.parent.mkdir(parents=True)
    pd.DataFrame({"x": [1]}).to_parquet(planted)  # a wrong file under the expected name
    with pytest.raises(ArchiveMismatch):
        run(warehouse, tmp_path / "second")
    assert counts(warehouse) == before
