"""The active-learning feeds (`labels`, `judgments`, `decisions`, SPEC §9) through the real
ingestion code, on DuckDB and on PostgreSQL: ledger, quarantine, supersede, SHA-256 skip."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from learning_loop.ingestion.landing import ingest_landing, landing_files
from learning_loop.settings import FEED_LANDING_KINDS, VIDEO_LANDING_KINDS
from learning_loop.warehouse.backend import Warehouse

LABEL_HEADER = ["agent", "example_id", "source", "label", "labeled_at", "confidence", "input_text", "f_risk_score", "f_spf_dkim"]
JUDGMENT_HEADER = ["agent", "example_id", "judge", "score", "judged_at"]
DECISION_HEADER = ["agent", "decision_id", "bundle_id", "decided_at", "quality", "latency_ms", "route_key"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def label(example_id: str, **changes: str) -> list[str]:
    row = dict(agent="inbox_triage", example_id=example_id, source="gold", label="1",
               labeled_at="2024-03-01T10:00:00Z", confidence="90", input_text="", f_risk_score="70.5", f_spf_dkim="1")
    row.update(changes)
    return [row[c] for c in LABEL_HEADER]


def judgment(example_id: str, **changes: str) -> list[str]:
    row = dict(agent="inbox_triage", example_id=example_id, judge="gpt-4", score="0.8", judged_at="2024-03-01T11:00:00Z")
    row.update(changes)
    return [row[c] for c in JUDGMENT_HEADER]


def decision(decision_id: str, **changes: str) -> list[str]:
    row = dict(agent="inbox_triage", decision_id=decision_id, bundle_id="inbox_triage_stable",
               decided_at="2024-03-01T12:00:00+01:00", quality="0.8", latency_ms="750", route_key="k1")
    row.update(changes)
    return [row[c] for c in DECISION_HEADER]


def ledger(wh: Warehouse, kind: str) -> list[tuple]:
    frame = wh.query_df(
        "SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, reason FROM ingested_files "
        "WHERE kind = :k ORDER BY loaded_at, file_name",
        {"k": kind},
    )
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]


def reasons(wh: Warehouse, kind: str) -> dict[int, str]:
    frame = wh.query_df("SELECT row_number, reason FROM quarantine WHERE kind = :k", {"k": kind})
    return {int(n): r for n, r in frame.itertuples(index=False, name=None)}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def test_labels_bad_rows_are_quarantined_with_their_reason(warehouse: Warehouse, root: Path):
    write_csv(root / "labels" / "a.csv", LABEL_HEADER, [
        label("e1"),
        label("e2", f_risk_score="high"),  # non-numeric feature
        label("e3", label="2"),
        label("e4", agent="Inbox-Triage"),
        label("e5", source="survey"),
        label("e6", confidence="150"),
        label("e7", labeled_at=""),
        label("e8", f_spf_dkim="", source="feedback", label="0", input_text="Win a prize"),  # a missing feature is fine
        label("e9", f_risk_score="inf"),
    ])
    report = ingest_landing(warehouse, root)
    assert [(f.kind, f.status) for f in report.files] == [("labels", "loaded")]
    assert ledger(warehouse, "labels") == [("a.csv", "loaded", 9, 2, 7, None)]
    got = reasons(warehouse, "labels")
    assert got[2] == "unparsable number in f_risk_score: high"
    assert got[3] == "label is not 0 or 1: 2"
    assert got[4].startswith("invalid agent name") and "Inbox-Triage" in got[4]
    assert got[5] == "unknown source: survey"
    assert got[6] == "confidence outside [0, 100]"
    assert got[7] == "required value missing: labeled_at"
    assert got[9] == "non-finite number in f_risk_score"
    raw = json.loads(warehouse.scalar("SELECT raw FROM quarantine WHERE kind = 'labels' AND row_number = 3"))
    assert raw["example_id"] == "e3" and raw["label"] == "2"

    stored = warehouse.query_df("SELECT * FROM labels ORDER BY example_id")
    assert list(stored["example_id"]) == ["e1", "e8"]
    assert not [c for c in stored.columns if c.startswith("f_")]
    assert json.loads(stored["features"][0]) == {"risk_score": 70.5, "spf_dkim": 1.0}
    assert json.loads(stored["features"][1]) == {"risk_score": 70.5}  # the missing feature is omitted
    assert list(stored["label"]) == [1, 0]
    assert stored["input_text"][1] == "Win a prize"
    assert pd.Timestamp(stored["labeled_at"][0]) == pd.Timestamp("2024-03-01 10:00:00")


def test_judgments_and_decisions_bad_rows(warehouse: Warehouse, root: Path):
    write_csv(root / "judgments" / "j.csv", JUDGMENT_HEADER, [
        judgment("e1"),
        judgment("e2", score="1.5"),
        judgment("e3", agent="post gate"),
        judgment("e4", judge=""),
        judgment("e5", score="-0.1"),
    ])
    write_csv(root / "decisions" / "d.csv", DECISION_HEADER, [
        decision("d1"),
        decision("d2", latency_ms="-3"),
        decision("d3", quality="1.2"),
        decision("d4", agent="9lives"),
        decision("d5", decided_at="yesterday"),
        decision("d6", route_key="", latency_ms="0"),
    ])
    report = ingest_landing(warehouse, root)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == 11
    assert ledger(warehouse, "judgments") == [("j.csv", "loaded", 5, 1, 4, None)]
    assert ledger(warehouse, "decisions") == [("d.csv", "loaded", 6, 2, 4, None)]
    assert reasons(warehouse, "judgments") == {
        2: "score outside [0, 1]",
        3: "invalid agent name (expected [a-z][a-z0-9_]*): post gate",
        4: "required value missing: judge",
        5: "score outside [0, 1]",
    }
    assert reasons(warehouse, "decisions") == {
        2: "negative latency_ms",
        3: "quality outside [0, 1]",
        4: "invalid agent name (expected [a-z][a-z0-9_]*): 9lives",
        5: "unparsable timestamp in decided_at: yesterday",
    }
    d = warehouse.query_df("SELECT decision_id, decided_at, latency_ms, route_key FROM decisions ORDER BY decision_id")
    assert list(d["decision_id"]) == ["d1", "d6"]
    assert pd.Timestamp(d["decided_at"][0]) == pd.Timestamp("2024-03-01 11:00:00")  # stored in UTC
    assert pd.isna(d["route_key"][1]) and d["latency_ms"][1] == 0.0
    assert float(warehouse.scalar("SELECT score FROM judgments")) == 0.8


def test_a_file_missing_required_columns_is_rejected(warehouse: Warehouse, root: Path):
    write_csv(root / "labels" / "no_label.csv", [c for c in LABEL_HEADER if c != "label"],
              [[v for c, v in zip(LABEL_HEADER, label("e1")) if c != "label"]])
    write_csv(root / "decisions" / "no_quality.csv", ["agent", "decision_id", "bundle_id", "decided_at", "latency_ms"],
              [["a", "d1", "b", "2024-03-01T00:00:00Z", "5"]])
    ingest_landing(warehouse, root)
    assert ledger(warehouse, "labels") == [("no_label.csv", "rejected", 0, 0, 0, "missing required columns: label")]
    assert ledger(warehouse, "decisions") == [("no_quality.csv", "rejected", 0, 0, 0, "missing required columns: quality")]
    assert warehouse.scalar("SELECT count(*) FROM labels") == 0
    assert warehouse.scalar("SELECT count(*) FROM quarantine") == 0


def test_later_rows_supersede_by_key_and_same_content_is_skipped(warehouse: Warehouse, root: Path):
    first = write_csv(root / "labels" / "2024-03-01.csv", LABEL_HEADER, [
        label("e1", label="1"),
        label("e1", source="feedback", label="0"),  # another source: its own key
        label("e2", label="0"),
        label("e2", label="1", confidence="99"),  # same key later in the file: supersedes
    ])
    ingest_landing(warehouse, root)
    again = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in again.files] == [("2024-03-01.csv", "skipped")]

    write_csv(root / "labels" / "2024-03-02.csv", LABEL_HEADER, [label("e1", label="0", labeled_at="2024-03-02T09:00:00Z")])
    ingest_landing(warehouse, root)
    stored = warehouse.query_df("SELECT example_id, source, label, confidence, source_file FROM labels ORDER BY example_id, source")
    assert [tuple(r) for r in stored[["example_id", "source", "label"]].itertuples(index=False)] == [
        ("e1", "feedback", 0), ("e1", "gold", 0), ("e2", "gold", 1)
    ]
    assert stored.loc[stored.example_id == "e2", "confidence"].item() == 99.0
    assert stored.loc[(stored.example_id == "e1") & (stored.source == "gold"), "source_file"].item() == "2024-03-02.csv"

    # a known name with new content loads again; its rows supersede the earlier ones
    write_csv(first, LABEL_HEADER, [label("e2", label="0", confidence="10")])
    report = ingest_landing(warehouse, root)
    assert [(f.file_name, f.status) for f in report.files if f.status != "skipped"] == [("2024-03-01.csv", "loaded")]
    assert warehouse.scalar("SELECT label FROM labels WHERE example_id = 'e2'") == 0
    assert warehouse.scalar("SELECT count(*) FROM labels") == 3
    for file_name, status, read, loaded, quarantined, _ in ledger(warehouse, "labels"):
        assert status == "loaded" and read == loaded + quarantined


def test_decisions_supersede_by_agent_and_decision_id(warehouse: Warehouse, root: Path):
    write_csv(root / "decisions" / "a.csv", DECISION_HEADER, [decision("d1"), decision("d1", agent="post_gate")])
    write_csv(root / "decisions" / "b.csv", DECISION_HEADER, [decision("d1", quality="0.5")])
    ingest_landing(warehouse, root)
    stored = warehouse.query_df("SELECT agent, quality FROM decisions ORDER BY agent")
    assert [tuple(r) for r in stored.itertuples(index=False)] == [("inbox_triage", 0.5), ("post_gate", 0.8)]


def test_kinds_select_what_a_run_loads(warehouse: Warehouse, root: Path):
    write_csv(root / "labels" / "a.csv", LABEL_HEADER, [label("e1")])
    write_csv(root / "videos" / "v.csv", ["project_id", "video_id", "published_at", "topic"], [["p", "v1", "2024-01-01T00:00:00Z", "t"]])
    assert [k for k, _ in landing_files(root)] == ["videos", "labels"]
    assert [k for k, _ in landing_files(root, FEED_LANDING_KINDS)] == ["labels"]

    report = ingest_landing(warehouse, root, kinds=VIDEO_LANDING_KINDS)
    assert [f.kind for f in report.files] == ["videos"]
    assert warehouse.scalar("SELECT count(*) FROM labels") == 0
    report = ingest_landing(warehouse, root, kinds=FEED_LANDING_KINDS)
    assert [f.kind for f in report.files] == ["labels"]
    assert warehouse.scalar("SELECT count(*) FROM labels") == 1
    with pytest.raises(ValueError, match="unknown landing kind"):
        ingest_landing(warehouse, root, kinds=["labelz"])


def test_labels_from_parquet(warehouse: Warehouse, root: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "labels").mkdir(parents=True)
    pq.write_table(pa.table({
        "agent": ["post_gate", "post_gate"],
        "example_id": ["p1", "p2"],
        "source": ["approvals", "approvals"],
        "label": pa.array([1, 3], type=pa.int64()),
        "labeled_at": pa.array([pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-01 11:00")], type=pa.timestamp("us")),
        "f_toxicity": pa.array([0.25, None], type=pa.float64()),
    }), root / "labels" / "p.parquet")
    ingest_landing(warehouse, root)
    assert ledger(warehouse, "labels") == [("p.parquet", "loaded", 2, 1, 1, None)]
    assert reasons(warehouse, "labels") == {2: "label is not 0 or 1: 3"}
    assert json.loads(warehouse.scalar("SELECT features FROM labels")) == {"toxicity": 0.25}


def test_the_sample_feeds_load_with_their_bad_rows(warehouse: Warehouse, root: Path):
    import shutil

    from learning_loop.views.active_learning import labeled_stats_view

    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    for kind in ("labels", "judgments", "decisions"):  # the sample data has no retrieval feedback
        shutil.copytree(sample / kind, root / kind)
    report = ingest_landing(warehouse, root)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    assert [(f.file_name, f.reason) for f in report.files if f.status == "rejected"] == [
        ("2024-03-11_no_source.csv", "missing required columns: source")
    ]
    per_kind = warehouse.query_df("SELECT kind, count(*) AS n FROM quarantine GROUP BY kind ORDER BY kind")
    assert dict(per_kind.itertuples(index=False, name=None)) == {"decisions": 4, "judgments": 3, "labels": 6}
    assert labeled_stats_view(warehouse, "2024-03-11T00:00:00Z") == {
        "total": 530,
        "by_source": {"approvals": 209, "feedback": 195, "gold": 126},
        "by_agent": {"inbox_triage": 255, "insights_writer": 107, "post_gate": 168},
        "recent_7d": 227,
    }
    judges = warehouse.query_df("SELECT DISTINCT judge FROM judgments ORDER BY judge")["judge"].tolist()
    assert judges == ["claude-3-opus", "gpt-3.5-turbo", "gpt-4"]
    # decisions follow the demo's deployment history: legacy config, first bundles, a 10 % canary
    from learning_loop.sample_data import decision_bundle

    rows = warehouse.query_df("SELECT agent, bundle_id, decided_at, route_key FROM decisions")
    assert all(decision_bundle(a, pd.Timestamp(t).to_pydatetime(), k) == b
               for a, b, t, k in rows.itertuples(index=False, name=None))
    canary = rows[rows["bundle_id"] == "inbox_triage_20240305_040000"]
    assert 50 <= len(canary) <= 0.2 * (rows["decided_at"] >= pd.Timestamp("2024-03-05 05:00")).sum()

    from learning_loop.domain.active_learning.training import train_bundle

    labels = warehouse.query_df("SELECT * FROM labels")
    bundle = train_bundle(labels, agent="inbox_triage", as_of="2024-03-11T00:00:00Z")
    assert bundle.training_count >= 150
    assert bundle.accuracy > 0.75  # always predicting the majority label scores 0.57 on the same held-out part
