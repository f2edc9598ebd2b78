"""The `retrieval_pairs` landing kind (background jobs' RAG training input) through the real ingestion code,
on both backends: ledger, quarantine reasons, supersede of a repeated observation, then the RAG job reads it."""

from __future__ import annotations

from pathlib import Path

from learning_loop.ingestion.landing import ingest_landing
from learning_loop_tests.ingestion.test_feeds import ledger, reasons, write_csv

HEADER = ["query", "document", "relevant", "observed_at"]


def test_retrieval_pairs_load_like_the_other_kinds(warehouse, tmp_path: Path):
    root = tmp_path / "landing"
    rows = [
        ["reset my password", "doc-17", "1", "2024-03-01T10:00:00Z"],
        ["reset my password", "doc-4", "0", "2024-03-01T10:00:00Z"],
        ["", "doc-1", "1", "2024-03-01T10:00:00Z"],                       # required value missing
        ["billing", "doc-2", "yes", "2024-03-01T10:00:00Z"],              # not a number
        ["billing", "doc-3", "2", "2024-03-01T10:00:00Z"],                # not 0/1
        ["billing", "doc-9", "1", "yesterday"],                           # bad timestamp
        ["reset my password", "doc-4", "1", "2024-03-01T10:00:00Z"],      # same observation again: supersedes
    ]
    write_csv(root / "retrieval_pairs" / "2024-03-01_pairs.csv", HEADER, rows)
    write_csv(root / "retrieval_pairs" / "2024-03-02_no_relevant.csv", ["query", "document", "observed_at"], [["q", "d", "2024-03-02"]])
    report = ingest_landing(warehouse, root, kinds=["retrieval_pairs"])
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    assert ledger(warehouse, "retrieval_pairs") == [
        ("2024-03-01_pairs.csv", "loaded", 7, 3, 4, None),
        ("2024-03-02_no_relevant.csv", "rejected", 0, 0, 0, "missing required columns: relevant"),
    ]
    assert reasons(warehouse, "retrieval_pairs") == {
        3: "required value missing: query",
        4: "unparsable number in relevant: yes",
        5: "relevant is not 0 or 1: 2",
        6: "unparsable timestamp in observed_at: yesterday",
    }
    stored = warehouse.query_df("SELECT query, document, relevant FROM retrieval_pairs ORDER BY document")
    assert stored.values.tolist() == [["reset my password", "doc-17", 1], ["reset my password", "doc-4", 1]]
