"""Landing-zone ingestion: files → videos, metric_snapshots, quarantine, ingested_files."""
